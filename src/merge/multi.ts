/**
 * mergekit-multi: several merges in one YAML file (documents separated by `---`), later ones
 * referring to earlier outputs by `name`. They run in dependency order, each into
 * OUT_DIR/<name> (an unnamed document — at most one, mergekit's "final merge" — into
 * OUT_DIR/final); the result is the unnamed merge, else the file's last one. Each output folder
 * appears complete or not at all; every merge is rerun (no reuse of earlier outputs).
 */
import * as path from "node:path";
import { ConfigError } from "../core/errors.js";
import { parseMergekitMulti, type MergeConfig } from "../formats/mergekit-config.js";
import { MERGE_METHODS } from "./methods/registry.js";
import { modelRefs, runMerge, type MergeOptions, type MergeReport } from "./engine.js";

/** Folder of the unnamed (final) merge inside OUT_DIR. */
export const UNNAMED_MERGE = "final";
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export interface MultiMergeReport {
  /** In the order they ran. */
  merges: { name: string; outDir: string; report: MergeReport }[];
  /** The output folder of the result merge. */
  result: string;
  warnings: string[];
}

export interface PlannedMerge {
  name: string;
  config: MergeConfig;
  /** Names of the merges whose outputs it reads. */
  needs: string[];
}

/**
 * Parse a mergekit-multi file and order its merges: names checked (unique, usable as folder
 * names, at most one unnamed), references to earlier merges rewritten to OUT_DIR/<name>, cycles
 * refused. Every problem is reported at once.
 */
export function planMultiMerge(text: string, outDir: string, source = "config"): { merges: PlannedMerge[]; result: string; warnings: string[] } {
  const parsed = parseMergekitMulti(text, MERGE_METHODS, source);
  const problems: string[] = [];
  const unnamed = parsed.filter((p) => p.config.name === undefined).length;
  if (unnamed > 1) problems.push(`${unnamed} documents have no name; all but the final merge need one (later merges refer to them by it)`);
  const names = parsed.map((p) => p.config.name ?? UNNAMED_MERGE);
  names.forEach((name, i) => {
    if (!NAME.test(name)) problems.push(`document ${i + 1}: name '${name}' must be letters, digits, '.', '_' or '-' (it names a folder)`);
    if (names.indexOf(name) !== i && !(unnamed > 1 && name === UNNAMED_MERGE)) problems.push(`document ${i + 1}: name '${name}' is used by document ${names.indexOf(name) + 1} too`);
  });
  const merges: PlannedMerge[] = parsed.map((p, i) => {
    const needs = new Set<string>();
    for (const ref of modelRefs(p.config)) {
      if (!names.includes(ref.path)) continue;
      if (ref.path === names[i]) problems.push(`document ${i + 1}: '${ref.path}' refers to its own output`);
      needs.add(ref.path);
      ref.path = path.join(outDir, ref.path);
      ref.text = ref.path + (ref.lora ? `+${ref.lora}` : "");
    }
    return { name: names[i], config: p.config, needs: [...needs] };
  });
  if (problems.length) throw new ConfigError(problems, source);
  // Kahn's algorithm, taking ready merges in file order.
  const ordered: PlannedMerge[] = [];
  const done = new Set<string>();
  while (ordered.length < merges.length) {
    const next = merges.find((m) => !done.has(m.name) && m.needs.every((n) => done.has(n)));
    if (!next) {
      const stuck = merges.filter((m) => !done.has(m.name)).map((m) => `${m.name} (needs ${m.needs.filter((n) => !done.has(n)).join(", ")})`);
      throw new ConfigError([`the merges refer to each other in a cycle: ${stuck.join("; ")}`], source);
    }
    ordered.push(next);
    done.add(next.name);
  }
  const result = unnamed === 1 ? UNNAMED_MERGE : names[names.length - 1];
  return { merges: ordered, result, warnings: parsed.flatMap((p, i) => p.warnings.map((w) => `${names[i]}: ${w}`)) };
}

/** Run a mergekit-multi file (`options.config` is its text) into OUT_DIR/<name> per merge. */
export async function runMultiMerge(options: MergeOptions & { config: string }): Promise<MultiMergeReport> {
  const { merges, result, warnings } = planMultiMerge(options.config, options.outDir, options.configName);
  const report: MultiMergeReport = { merges: [], result: path.join(options.outDir, result), warnings };
  for (const merge of merges) {
    const outDir = path.join(options.outDir, merge.name);
    if (options.dryRun && merge.needs.length > 0) {
      // Its inputs do not exist yet: the config was checked, the shapes cannot be.
      report.warnings.push(`${merge.name}: reads ${merge.needs.join(", ")}, which a dry run does not write; its shapes were not checked`);
      continue;
    }
    const done = await runMerge({ ...options, config: merge.config, outDir });
    report.merges.push({ name: merge.name, outDir, report: done });
  }
  return report;
}
