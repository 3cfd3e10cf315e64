/** The explicit list of merge methods; names are mergekit's. */
import type { MergeMethod } from "./types.js";
import { linear } from "./linear.js";
import { taskArithmetic } from "./task-arithmetic.js";
import { ties } from "./ties.js";
import { dareTies } from "./dare-ties.js";
import { dareLinear } from "./dare-linear.js";
import { breadcrumbs } from "./breadcrumbs.js";
import { breadcrumbsTies } from "./breadcrumbs-ties.js";
import { della } from "./della.js";
import { dellaLinear } from "./della-linear.js";
import { slerp } from "./slerp.js";
import { nuslerp } from "./nuslerp.js";
import { multislerp } from "./multislerp.js";
import { karcher } from "./karcher.js";
import { modelStock } from "./model-stock.js";
import { sce } from "./sce.js";
import { nearswap } from "./nearswap.js";
import { passthrough } from "./passthrough.js";
import { arceeFusion } from "./arcee-fusion.js";

export const MERGE_METHODS: readonly MergeMethod[] = [
  linear, taskArithmetic, ties, dareTies, dareLinear, breadcrumbs, breadcrumbsTies, della, dellaLinear,
  slerp, nuslerp, multislerp, karcher, modelStock, sce, nearswap, passthrough, arceeFusion,
];

export function findMethod(name: string): MergeMethod | undefined {
  return MERGE_METHODS.find((m) => m.name === name);
}

export function methodNames(): string[] {
  return MERGE_METHODS.map((m) => m.name);
}
