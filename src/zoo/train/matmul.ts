import { tf } from "./backend.js";

/**
 * Matrix products for training on tfjs's wasm backend. Its matMul kernel is fast only in the
 * plain form (neither operand transposed); the automatic gradient of `a·bᵀ` uses the transposed
 * forms and runs 10–20× slower. These operations transpose explicitly, in the forward pass and
 * in hand-written gradients, so every product the backward pass runs is a plain one (training
 * becomes 3–4× faster). With `custom: false` they fall back to tf.matMul and its own gradient,
 * which computes the same function (kept for the side-by-side benchmark).
 */
export interface MatMulOps {
  /** x·Wᵀ for x [n, in] and a weight W [out, in] in Hugging Face layout. */
  linear(x: tf.Tensor2D, w: tf.Tensor2D): tf.Tensor2D;
  /** a·b for rank-2 or batched (rank ≥ 3) operands. */
  matMul<T extends tf.Tensor>(a: T, b: T): T;
  /** a·bᵀ (transpose of the last two axes) for batched operands. */
  matMulT<T extends tf.Tensor>(a: T, b: T): T;
}

/** Swap the last two axes. */
function swapLast<T extends tf.Tensor>(t: T): T {
  const perm = t.shape.map((_, i) => i);
  const n = perm.length;
  [perm[n - 2], perm[n - 1]] = [perm[n - 1], perm[n - 2]];
  return tf.transpose(t, perm);
}

/** a·b with a gradient made of plain products: da = dy·bᵀ, db = aᵀ·dy. */
const plainMatMul = tf.customGrad((a, b, save) => {
  const [x, y] = [a as tf.Tensor, b as tf.Tensor];
  (save as tf.GradSaveFunc)([x, y]);
  return {
    value: tf.matMul(x, y),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [tf.matMul(dy, swapLast(saved[1])), tf.matMul(swapLast(saved[0]), dy)],
  };
});

export const customMatMulOps: MatMulOps = {
  linear: (x, w) => plainMatMul(x, swapLast(w)) as tf.Tensor2D,
  matMul: <T extends tf.Tensor>(a: T, b: T) => plainMatMul(a, b) as T,
  matMulT: <T extends tf.Tensor>(a: T, b: T) => plainMatMul(a, swapLast(b)) as T,
};

export const builtinMatMulOps: MatMulOps = {
  linear: (x, w) => tf.matMul(x, w, false, true),
  matMul: <T extends tf.Tensor>(a: T, b: T) => tf.matMul(a, b) as unknown as T,
  matMulT: <T extends tf.Tensor>(a: T, b: T) => tf.matMul(a, b, false, true) as unknown as T,
};
