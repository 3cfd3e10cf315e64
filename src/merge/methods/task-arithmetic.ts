import { taskVectorMethod } from "./task-vectors.js";

/** Task arithmetic: base + λ·Σ weight·(x − base). Defaults as mergekit: normalize false, rescale false. */
export const taskArithmetic = taskVectorMethod({
  name: "task_arithmetic",
  summary: "Task arithmetic: base + λ·Σ weight·(x − base)",
  normalize: false,
  rescale: false,
});
