import { taskVectorMethod } from "./task-vectors.js";

/** DARE: random drop with L1 rescale, then a weighted sum. Defaults as mergekit: normalize false, rescale true. */
export const dareLinear = taskVectorMethod({
  name: "dare_linear",
  summary: "DARE: random drop with L1 rescale, then a weighted sum",
  sparsifier: "random",
  normalize: false,
  rescale: true,
});
