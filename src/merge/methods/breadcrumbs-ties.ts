import { taskVectorMethod } from "./task-vectors.js";

/** Model Breadcrumbs with TIES sign election. Defaults as mergekit: normalize false, rescale false. */
export const breadcrumbsTies = taskVectorMethod({
  name: "breadcrumbs_ties",
  summary: "Model Breadcrumbs with TIES sign election",
  consensus: "sum",
  sparsifier: "outliers",
  normalize: false,
  rescale: false,
});
