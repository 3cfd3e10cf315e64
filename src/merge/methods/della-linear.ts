import { taskVectorMethod } from "./task-vectors.js";

/** DELLA without sign election. Defaults as mergekit: normalize false, rescale true. */
export const dellaLinear = taskVectorMethod({
  name: "della_linear",
  summary: "DELLA without sign election",
  sparsifier: "della",
  normalize: false,
  rescale: true,
});
