import { measureAdaptZooGoals, type AdaptZooGoalsOptions, type AdaptZooGoalsReport } from "../adapt/zoo-goals.js";
import type { Progress } from "../core/progress.js";
import type { ExpertSpec } from "../formats/models-file.js";
import type { TaskItem } from "../formats/tasks.js";
import { splitItems } from "../unify/items.js";
import { unify, type JudgeContext, type MoeSummary, type UnifyReport } from "../unify/main-job.js";
import type { Goal } from "../unify/goals.js";
import { adaptGoals, evolveGoals } from "./adapt-goals.js";
import { distillGoals } from "./distill-goals.js";
import { generationSpeed, moeGateQuality, moeGoals, zooMoe, type GenerationSpeed } from "./moe.js";
import type { DemoZoo } from "./zoo.js";

/**
 * `npm run demo`: `unify` on the zoo. The zoo supplies the models file (its bases, experts and
 * control; experts name their family's base and their Hugging Face folder, so the family-A
 * experts are merged), the held-out items (cloze and bits per byte, capped per domain and kind,
 * passages cut at 256 characters), and its extras: the committed mixtures of experts (judged and
 * served as unified models), the distilled pivots, the centralised model and the evolved merge
 * (judged beside them, members of nothing), and the MoE, distillation and evolve goals.
 */
export interface DemoOptions {
  zoo: DemoZoo;
  outDir: string;
  /** Items per domain, kind and split (default 10). */
  itemsPerDomain?: number;
  progress?: Progress;
  log?: (line: string) => void;
  /** Also measure `cogen adapt` on the zoo's unseen domain (LoRA training and compose: minutes). */
  adapt?: Omit<AdaptZooGoalsOptions, "zoo" | "progress">;
}

export type DemoReport = UnifyReport & {
  /** `cogen adapt` on the zoo's unseen domain, when asked for (options.adapt); its goals are in `goals`. */
  adapt?: AdaptZooGoalsReport;
};

/** Passages longer than this are cut at a word boundary (time: the zoo's passages are long). */
export const DEMO_PASSAGE_CHARS = 256;

export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  const { zoo } = options;
  const moe = await zooMoe(zoo.root);
  let adapt: AdaptZooGoalsReport | undefined;
  const report = await unify({
    experts: zooExperts(zoo),
    items: zoo.items,
    domains: zoo.domains,
    outDir: options.outDir,
    policies: ["router", "ensemble", "merge"],
    split: { perDomainAndKind: options.itemsPerDomain ?? 10, maxPassageChars: DEMO_PASSAGE_CHARS },
    extras: {
      unified: moe?.specs ?? [],
      references: [...(zoo.distilled ?? []), ...(zoo.evolved ? [zoo.evolved] : [])].map((m) => localSpec(m.id, m.gguf)),
      judge: async (context) => {
        const speed = await moeSpeed(context, zoo);
        const goals = [...moeGoals(context.rows.filter((r) => !context.references.includes(r.model)), context.singles, speed), ...(await zooDistillGoals(context, zoo))];
        if (zoo.evolved) goals.push(...evolveGoals(context, zoo.evolved.id));
        if (options.adapt) {
          adapt = await measureAdaptZooGoals({ ...options.adapt, zoo: zoo.root, progress: options.progress });
          goals.push(...adaptGoals(adapt));
        }
        const summary: MoeSummary | undefined = moe ? { experts: moe.manifest.experts, gateQuality: moeGateQuality(moe.manifest), checkpoints: moe.manifest.checkpoints, speed } : undefined;
        return { goals, ...(summary ? { moe: summary } : {}) };
      },
    },
    progress: options.progress,
    log: options.log,
  });
  return adapt ? { ...report, adapt } : report;
}

/** The zoo as a models file: experts name their family's base (when it is in the set) and their HF folder. */
export function zooExperts(zoo: DemoZoo): ExpertSpec[] {
  return zoo.models.map((m) => {
    const base = m.role === "expert" ? zoo.models.find((b) => b.family === m.family && b.role === "base") : undefined;
    return {
      ...localSpec(m.id, m.gguf),
      domains: m.domain ? [m.domain] : [],
      tags: [`family-${m.family}`, m.role],
      ...(base ? { base: base.id } : {}),
      ...(m.hf ? { weights: m.hf } : {}),
    };
  });
}

function localSpec(id: string, gguf: string): ExpertSpec {
  return { id, backend: "llamacpp", path: gguf, threads: 1, domains: [], tags: [] };
}

/** Generation speed of the top-2 trained mixture against one dense family-A expert. */
async function moeSpeed(context: JudgeContext, zoo: DemoZoo): Promise<GenerationSpeed | undefined> {
  const top2 = context.models.get("unified-moe-trained-top2");
  const dense = zoo.models.find((m) => m.family === "a" && m.role === "expert" && m.hf);
  const denseModel = dense ? context.models.get(dense.id) : undefined;
  if (!top2 || !denseModel) return undefined;
  const prompts = context.test.filter((i) => i.kind === "bits_per_byte").slice(0, 4).map((i) => (i as TaskItem & { text: string }).text.slice(0, 60));
  return generationSpeed(top2, denseModel, prompts);
}

/** The distillation goals; FPO is judged on every test-split cloze item (not only the capped table sample). */
async function zooDistillGoals(context: JudgeContext, zoo: DemoZoo): Promise<Goal[]> {
  const distilled = zoo.distilled ?? [];
  if (!distilled.length) return [];
  const roleOf = (id: string) => distilled.find((m) => m.id === id)?.role;
  const pivot = context.models.get(distilled.find((m) => m.role === "pivot")?.id ?? "");
  const fpo = context.models.get(distilled.find((m) => m.role === "pivot-fpo")?.id ?? "");
  const allCloze = splitItems(zoo.items.filter((i) => i.task === "zoo-cloze"), { maxPassageChars: DEMO_PASSAGE_CHARS }).test;
  const clozeRecords = pivot && fpo ? await context.evaluate([pivot, fpo], allCloze, "cloze before and after FPO") : [];
  if (clozeRecords.length) await context.writeJsonl("fpo-cloze-results.jsonl", clozeRecords);
  const pivots = context.references.filter((id) => ["pivot", "pivot-family-b", "pivot-fpo", "pivot-sampled", "pivot-wide-sampled", "pivot-moe"].includes(roleOf(id) ?? ""));
  return distillGoals({
    rows: context.rows, records: context.records, clozeRecords, domains: context.domains, distilled,
    // The mixture-of-experts pivots count as mixtures (as the MoE rows do), not as single dense checkpoints.
    checkpoints: [...context.singles, ...context.unified.filter((id) => id === "unified-ties-merge"), ...context.references.filter((id) => !roleOf(id)?.startsWith("pivot-moe"))],
    unified: [...context.unified, ...pivots],
  });
}
