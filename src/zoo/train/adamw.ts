import { tf } from "./backend.js";

/**
 * AdamW (Loshchilov & Hutter): Adam moments with bias correction, and weight decay applied to
 * the weights directly (decoupled), as PyTorch's torch.optim.AdamW does:
 *   w ← w·(1 − lr·λ);  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;
 *   w ← w − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε).
 * Decay applies to matrices only (norm weights are left undecayed). Gradients are clipped to a
 * maximum global L2 norm first. The moments are tf.Variables named like the weights, so a
 * checkpoint can store and restore them exactly.
 */
export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Clip the global gradient norm to this (Infinity: no clipping). */
  maxGradNorm: number;
}

export const DEFAULT_ADAMW: AdamWOptions = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, maxGradNorm: 1 };

export interface AdamWState {
  /** Steps taken so far (t of the bias correction is step + 1 during a step). */
  step: number;
  m: Map<string, tf.Variable>;
  v: Map<string, tf.Variable>;
}

export function createAdamWState(params: Map<string, tf.Variable>): AdamWState {
  const m = new Map<string, tf.Variable>();
  const v = new Map<string, tf.Variable>();
  for (const [name, p] of params) {
    m.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
    v.set(name, tf.tidy(() => tf.variable(tf.zerosLike(p), false)));
  }
  return { step: 0, m, v };
}

export function disposeAdamWState(state: AdamWState): void {
  for (const t of [...state.m.values(), ...state.v.values()]) t.dispose();
}

/** Global L2 norm of the gradients (read back to JS). */
export function globalNorm(grads: Iterable<tf.Tensor>): number {
  return tf.tidy(() => {
    let sum = tf.scalar(0);
    for (const g of grads) sum = tf.add(sum, tf.sum(tf.square(g)));
    return Math.sqrt(sum.dataSync()[0]);
  });
}

/** One AdamW step in place; returns the gradient norm before clipping. `lrScale` gives some weights a multiple of lr. */
export function adamWStep(
  params: Map<string, tf.Variable>,
  grads: Map<string, tf.Tensor>,
  state: AdamWState,
  baseLr: number,
  o: AdamWOptions,
  lrScale?: (name: string) => number,
): number {
  const norm = globalNorm(grads.values());
  const clip = Number.isFinite(o.maxGradNorm) && norm > o.maxGradNorm ? o.maxGradNorm / (norm + 1e-6) : 1;
  const t = state.step + 1;
  const bc1 = 1 - Math.pow(o.beta1, t);
  const bc2 = 1 - Math.pow(o.beta2, t);
  tf.tidy(() => {
    for (const [name, p] of params) {
      const lr = lrScale ? baseLr * lrScale(name) : baseLr;
      const g0 = grads.get(name);
      if (!g0) throw new Error(`no gradient for ${name}`);
      const g = clip === 1 ? g0 : tf.mul(g0, clip);
      const m = state.m.get(name)!;
      const v = state.v.get(name)!;
      m.assign(tf.add(tf.mul(m, o.beta1), tf.mul(g, 1 - o.beta1)));
      v.assign(tf.add(tf.mul(v, o.beta2), tf.mul(tf.square(g), 1 - o.beta2)));
      const decayed = o.weightDecay > 0 && p.rank > 1 ? tf.mul(p, 1 - lr * o.weightDecay) : p;
      const denom = tf.add(tf.div(tf.sqrt(v), Math.sqrt(bc2)), o.eps);
      p.assign(tf.sub(decayed, tf.mul(tf.div(m, denom), lr / bc1)));
    }
  });
  state.step = t;
  return norm;
}
