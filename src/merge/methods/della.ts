import { taskVectorMethod } from "./task-vectors.js";

/** DELLA: rank-based keep probabilities per row, sign election. Defaults as mergekit: normalize true, rescale true. */
export const della = taskVectorMethod({
  name: "della",
  summary: "DELLA: rank-based keep probabilities per row, sign election",
  consensus: "sum",
  sparsifier: "della",
  normalize: true,
  rescale: true,
});
