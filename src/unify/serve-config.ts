import * as path from "node:path";
import { stringify } from "yaml";
import { modelsFileEntry, type ExpertSpec } from "../formats/models-file.js";
import { UNIFIED_IDS, type UnifyReport } from "./main-job.js";

/**
 * unified.yml: the serve config (src/serve/unified-config.ts) for every model the job judged
 * except the references: the experts, the router and the ensemble over them with the settings
 * they were judged with (their evidence files lie beside this file), each checkpoint unify built or was given (merge, mixture) as a
 * single model, and each expert alone. Files in the output folder are named relative to it, so
 * the folder can move; the experts' own files keep absolute paths.
 */
export interface UnifiedYamlInput {
  experts: readonly ExpertSpec[];
  /** Built or given single-file unified models (merge, MoE). */
  checkpoints: readonly ExpertSpec[];
  outDir: string;
  /** Whether OUT_DIR has domain-items.jsonl (the router's unscored examples of each domain). */
  domainItems?: boolean;
  report: Pick<UnifyReport, "singles" | "serveCommand">;
}

/** The judged ensemble's settings, written into unified.yml so the served ensemble is the judged one. */
export const ENSEMBLE_SETTINGS = { maxAbilityGap: 1.5, weightTemperature: 0.5 } as const;

export function unifiedYaml(input: UnifiedYamlInput): string {
  const outDir = path.resolve(input.outDir);
  const evidence = { tasks: "dev-items.jsonl", results: "dev-results.jsonl", ranking: "ranking.json", ...(input.domainItems ? { domain_items: "domain-items.jsonl" } : {}) };
  const members = input.report.singles;
  const config = {
    experts: [...input.experts.map((e) => modelsFileEntry(e)), ...input.checkpoints.map((c) => modelsFileEntry(c, outDir))],
    serve: [
      { id: UNIFIED_IDS.router, policy: "router", members, options: evidence },
      { id: UNIFIED_IDS.ensemble, policy: "ensemble", members, options: { ...evidence, max_ability_gap: ENSEMBLE_SETTINGS.maxAbilityGap, weight_temperature: ENSEMBLE_SETTINGS.weightTemperature } },
      ...input.checkpoints.map((c) => ({ id: c.id, policy: "single", members: [c.id] })),
      ...input.experts.map((e) => ({ id: e.id, policy: "single", members: [e.id] })),
    ],
  };
  const header = ["# Written by `cogen unify`: serve these models with", `#   ${input.report.serveCommand}`, ""].join("\n");
  return header + stringify(config, { lineWidth: 0, flowCollectionPadding: false });
}
