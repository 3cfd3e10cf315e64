import { taskVectorMethod } from "./task-vectors.js";

/** Model Breadcrumbs: drop the largest gamma and the smallest entries. Defaults as mergekit: normalize false, rescale false. */
export const breadcrumbs = taskVectorMethod({
  name: "breadcrumbs",
  summary: "Model Breadcrumbs: drop the largest gamma and the smallest entries",
  sparsifier: "outliers",
  normalize: false,
  rescale: false,
});
