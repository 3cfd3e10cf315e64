import { adamWStep, type AdamWOptions, type AdamWState } from "./adamw.js";
import { tf } from "./backend.js";
import type { Batch } from "./batches.js";
import { lossOf, type TrainModel } from "./model.js";

/**
 * One optimizer step on one batch: loss and gradients of the trainable variables, then AdamW.
 * Returns the batch's mean loss (nats per token). Leaves no tensors behind.
 */
export function trainingStep(
  model: TrainModel,
  params: Map<string, tf.Variable>,
  optimizer: AdamWState,
  batch: Batch,
  lr: number,
  adamw: AdamWOptions,
): number {
  const shape: [number, number] = [batch.inputs.length, batch.inputs[0].length];
  const inputs = tf.tensor2d(batch.inputs, shape, "int32");
  const targets = tf.tensor2d(batch.targets, shape, "int32");
  try {
    return optimizerStep(params, optimizer, () => lossOf(model, inputs, targets), lr, adamw);
  } finally {
    tf.dispose([inputs, targets]);
  }
}

/** One AdamW step on the gradients of any scalar loss of the trainable variables; returns the loss. */
export function optimizerStep(
  params: Map<string, tf.Variable>,
  optimizer: AdamWState,
  loss: () => tf.Scalar,
  lr: number,
  adamw: AdamWOptions,
): number {
  const varList = [...params.values()];
  const { value, grads } = tf.variableGrads(loss, varList);
  try {
    const result = value.dataSync()[0];
    const named = new Map<string, tf.Tensor>();
    for (const [name, v] of params) named.set(name, grads[v.name]);
    adamWStep(params, named, optimizer, lr, adamw);
    return result;
  } finally {
    tf.dispose([value, ...Object.values(grads)]);
  }
}
