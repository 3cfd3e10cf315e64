import * as path from "node:path";
import type { LanguageModel } from "../core/language-model.js";
import { readZooMoeManifest, type ZooMoeManifest } from "../fuse/moe/zoo-moe.js";
import type { GateQuality } from "../fuse/moe/gate-quality.js";
import type { ExpertSpec } from "../formats/models-file.js";
import type { ScoreRow } from "../unify/scoreboard.js";

/**
 * The demo's mixture-of-experts rows: the zoo's MoE checkpoints (zoo/moe/, src/fuse/moe/zoo-moe.ts)
 * as single-file unified models that `unify` judges and serves, their goals, and the
 * generation-speed check of the top-2 mixture against one dense expert.
 */
export interface DemoMoe {
  manifest: ZooMoeManifest;
  specs: ExpertSpec[];
}

/** Row id of a checkpoint: "a-trained-top2" → "unified-moe-trained-top2". */
export const moeRowId = (checkpoint: string) => `unified-moe-${checkpoint.replace(/^[a-z]+-/, "")}`;

/** Every MoE checkpoint of the zoo (none when the zoo has no zoo/moe/manifest.json). */
export async function zooMoe(zooRoot: string): Promise<DemoMoe | undefined> {
  const manifest = await readZooMoeManifest(zooRoot);
  if (!manifest) return undefined;
  const specs = manifest.checkpoints.map((c): ExpertSpec => ({
    id: moeRowId(c.id), backend: "llamacpp", path: path.join(zooRoot, c.files.gguf), threads: 1, domains: [], tags: ["moe"],
  }));
  return { manifest, specs };
}

export interface GenerationSpeed {
  moe: string;
  dense: string;
  moeTokensPerSecond: number;
  denseTokensPerSecond: number;
  /** Median over rounds of moe / dense tokens per second, measured alternately in the same run. */
  ratio: number;
  rounds: number;
}

/**
 * Greedy generation speed of a mixture against a dense model, alternating, median of rounds. 32 new
 * tokens: a demo prompt (~20 tokens) and its continuation fit the zoo's 64 trained positions.
 */
export async function generationSpeed(moe: LanguageModel, dense: LanguageModel, prompts: readonly string[], rounds = 5, maxTokens = 32): Promise<GenerationSpeed> {
  const rate = async (model: LanguageModel): Promise<number> => {
    let tokens = 0;
    const started = process.hrtime.bigint();
    for (const prompt of prompts) {
      for await (const chunk of model.generate(prompt, { maxTokens, temperature: 0 })) if (chunk.type === "finish") tokens += chunk.tokens ?? 0;
    }
    return tokens / (Number(process.hrtime.bigint() - started) / 1e9);
  };
  await rate(moe);
  await rate(dense);
  const moeRates: number[] = [];
  const denseRates: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const m = await rate(moe);
    const d = await rate(dense);
    moeRates.push(m);
    denseRates.push(d);
    ratios.push(m / d);
  }
  return { moe: moe.id, dense: dense.id, moeTokensPerSecond: median(moeRates), denseTokensPerSecond: median(denseRates), ratio: median(ratios), rounds };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export interface MoeGoal {
  goal: string;
  met: boolean;
  detail: string;
}

/** The MoE goals of issue 11 on the judged rows. */
export function moeGoals(rows: readonly ScoreRow[], singles: readonly string[], speed: GenerationSpeed | undefined): MoeGoal[] {
  const f = (x: number | undefined) => (x === undefined ? "n/a" : x.toFixed(3));
  const trained = rows.filter((r) => r.model.startsWith("unified-moe-trained")).sort((a, b) => (a.macroBpb ?? Infinity) - (b.macroBpb ?? Infinity))[0];
  const router = rows.find((r) => r.model === "unified-router");
  const ties = rows.find((r) => r.model === "unified-ties-merge");
  const bestSingle = rows.filter((r) => singles.includes(r.model)).sort((a, b) => (a.macroBpb ?? Infinity) - (b.macroBpb ?? Infinity))[0];
  const goals: MoeGoal[] = [];
  if (trained?.macroBpb !== undefined) {
    const beatsSingles = bestSingle?.macroBpb !== undefined && trained.macroBpb < bestSingle.macroBpb;
    const beatsTies = ties?.macroBpb === undefined || trained.macroBpb < ties.macroBpb;
    const nearRouter = router?.macroBpb !== undefined && trained.macroBpb <= router.macroBpb + 0.05;
    goals.push({
      goal: "MoE with trained gates beats every single model and the TIES merge, within 0.05 of the router (bits per byte, macro)",
      met: beatsSingles && beatsTies && nearRouter,
      detail: `${trained.model} ${f(trained.macroBpb)} vs best single ${bestSingle?.model} ${f(bestSingle?.macroBpb)}, TIES ${f(ties?.macroBpb)}, router ${f(router?.macroBpb)}`,
    });
    goals.push({
      goal: "moonshot: MoE with trained gates (per-token routing) lower than the router (per-request routing)",
      met: router?.macroBpb !== undefined && trained.macroBpb < router.macroBpb,
      detail: `${f(trained.macroBpb)} vs ${f(router?.macroBpb)}`,
    });
  }
  if (speed) {
    goals.push({
      goal: "top-2 MoE generates at ≥ 0.5× one dense expert's speed in llama.cpp",
      met: speed.ratio >= 0.5,
      detail: `${speed.ratio.toFixed(2)}× (${speed.moe} ${speed.moeTokensPerSecond.toFixed(0)} tok/s, ${speed.dense} ${speed.denseTokensPerSecond.toFixed(0)} tok/s; median of ${speed.rounds} alternating rounds)`,
    });
  }
  return goals;
}

/** Gate quality per checkpoint, for the report. */
export function moeGateQuality(manifest: ZooMoeManifest): Record<string, GateQuality> {
  return Object.fromEntries(manifest.checkpoints.map((c) => [moeRowId(c.id), c.gateQuality]));
}
