import { taskVectorMethod } from "./task-vectors.js";

/** DARE with TIES sign election: random drop with L1 rescale. Defaults as mergekit: normalize false, rescale true. */
export const dareTies = taskVectorMethod({
  name: "dare_ties",
  summary: "DARE with TIES sign election: random drop with L1 rescale",
  consensus: "sum",
  sparsifier: "random",
  normalize: false,
  rescale: true,
});
