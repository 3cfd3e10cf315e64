import { taskVectorMethod } from "./task-vectors.js";

/** TIES: magnitude top-k, sign election, disjoint mean. Defaults as mergekit: normalize true, rescale false. */
export const ties = taskVectorMethod({
  name: "ties",
  summary: "TIES: magnitude top-k, sign election, disjoint mean",
  consensus: "sum",
  sparsifier: "magnitude",
  normalize: true,
  rescale: false,
});
