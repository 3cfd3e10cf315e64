/**
 * The zoo's mixtures of experts (zoo/moe/): family A's eight domain experts as one Mixtral, in
 * three checkpoints the demo judges next to the router and the TIES merge:
 *   a-hidden/       `cogen moe zoo/moe/hidden.yml`: mergekit-moe's `hidden` gates from lines of each
 *                   domain's training text (top-2)
 *   a-trained-top2/ those gates trained by `trainGates` (BTX: with the shared weights and the
 *                   routing loss) on the mixed training corpora, top-2
 *   a-trained-top1/ the same trained gates run with one expert per token
 * Each holds model.gguf (F32, llama.cpp); a-hidden also its Hugging Face folder (hf/), the start
 * of gate training. zoo/moe/manifest.json records the plan, timings and the gate quality on
 * held-out passages. Only training text (src/zoo/corpora, train side) is ever trained on or used
 * as a prompt; held-out records only measure. Deterministic: steps, not seconds; fixed seeds.
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { writeFileAtomic } from "../../core/atomic.js";
import { ConfigError, InputFileError } from "../../core/errors.js";
import { silentProgress, type Progress } from "../../core/progress.js";
import { convertHfToGguf } from "../../formats/convert/hf-to-gguf.js";
import { buildCorpus, type Corpus } from "../../zoo/corpora/build.js";
import { readZooManifest } from "../../zoo/build/manifest.js";
import { createTrainModel, disposeTrainModel, readWeights } from "../../zoo/train/model.js";
import { exportHf } from "../../zoo/train/export.js";
import { loadMixtralTrainModel, withExpertsPerToken } from "../../zoo/train/mixtral-hf.js";
import { parseMoeConfig } from "../../formats/moe-config.js";
import { buildMoe } from "./build.js";
import { gateQuality, type GateQuality } from "./gate-quality.js";
import { trainGates } from "./train-gates.js";

export interface ZooMoePlan {
  family: string;
  /** The mergekit-moe config of the hidden-state-gate mixture, relative to the zoo folder. */
  hiddenConfig: string;
  /**
   * Gate training; `trainShared` also trains attention, norms and embeddings (never the experts)
   * at `sharedLr`; `domainLossCoef` weighs the routing loss that teaches each training row's
   * tokens their domain's expert (trainGates).
   */
  gates: {
    steps: number; batchSize: number; seqLen: number; lr: number; seed: number; routerAuxLossCoef: number; trainShared: boolean;
    sharedLr?: number; domainLossCoef?: number;
  };
  /** Held-out bytes per domain for the gate quality report. */
  qualityBytes: number;
}

export const ZOO_MOE_PLAN: ZooMoePlan = {
  family: "a",
  hiddenConfig: "moe/hidden.yml",
  // Sized for the shared 2-core machine (every expert is evaluated on every token while training).
  // BTX with the shared weights trained at a small lr, plus the routing loss: gates alone on one
  // token's hidden state barely tell the domains apart (bench/moe-gates.ts; docs/ARCHITECTURE.md).
  gates: { steps: 2400, batchSize: 8, seqLen: 64, lr: 5e-2, seed: 7, routerAuxLossCoef: 0.01, trainShared: true, sharedLr: 2e-3, domainLossCoef: 0.1 },
  qualityBytes: 6_000,
};

export interface ZooMoeCheckpoint {
  id: string;
  folder: string;
  expertsPerToken: number;
  gates: "hidden" | "trained";
  files: { gguf: string; hf: string | null };
  /** Gate training (trained gates only). */
  training: { steps: number; seconds: number; stepsPerSecond: number; finalCe: number; finalBalance: number; finalRouting?: number } | null;
  gateQuality: GateQuality;
  ggufBytes: number;
}

export interface ZooMoeManifest {
  format: "cogen-zoo-moe/1";
  plan: ZooMoePlan;
  /** Expert order: the domain of expert e. */
  experts: string[];
  checkpoints: ZooMoeCheckpoint[];
  seconds: number;
}

export const ZOO_MOE_MANIFEST = "moe/manifest.json";

export interface BuildZooMoeOptions {
  /** The zoo folder (with manifest.json); writes <zooDir>/moe/. */
  zooDir: string;
  plan?: ZooMoePlan;
  /** Corpus to draw training lines and held-out passages from (default: built from the packages). */
  corpus?: Corpus;
  progress?: Progress;
  log?: (line: string) => void;
}

export async function buildZooMoe(options: BuildZooMoeOptions): Promise<ZooMoeManifest> {
  const started = Date.now();
  const plan = options.plan ?? ZOO_MOE_PLAN;
  const log = options.log ?? (() => {});
  const progress = options.progress ?? silentProgress;
  const zoo = await readZooManifest(options.zooDir);
  const base = zoo.models.find((m) => m.family === plan.family && m.role === "base");
  const experts = zoo.models.filter((m) => m.family === plan.family && m.role === "expert");
  if (!base || experts.length < 2) throw new ConfigError([`the zoo at ${options.zooDir} has no family ${plan.family} base with at least two experts`]);
  const corpus = options.corpus ?? (await buildCorpus({ seed: zoo.data.seed }));
  const domainOf = (name: string) => {
    const d = corpus.domains.find((x) => x.name === name);
    if (!d) throw new ConfigError([`the corpus has no domain ${name}`]);
    return d;
  };
  const moeRoot = path.join(options.zooDir, "moe");
  await fs.mkdir(moeRoot, { recursive: true });
  const rel = (file: string) => path.relative(options.zooDir, file).split(path.sep).join("/");

  // 1. Hidden-state gates (mergekit-moe's default), top-2, from the committed mergekit-moe config
  // (zoo/moe/hidden.yml: prompts are lines of each domain's training text; paths from the repository root).
  const hiddenDir = path.join(moeRoot, `${plan.family}-hidden`);
  const configFile = path.join(options.zooDir, plan.hiddenConfig);
  const yaml = await fs.readFile(configFile, "utf8").catch((e: Error) => {
    throw new InputFileError(configFile, `cannot read the zoo's MoE config: ${e.message}`);
  });
  log(`hidden-state gates: cogen moe ${configFile}`);
  await buildMoe({ config: yaml, configName: configFile, baseDir: path.dirname(path.resolve(options.zooDir)), outDir: path.join(hiddenDir, "hf"), outFormat: "hf", progress });
  const expertDomains = parseMoeConfig(yaml, configFile).experts.map(({ model }) => {
    const source = model.text;
    const expert = experts.find((e) => source.includes(`/experts/${e.domain}/`));
    if (!expert) throw new ConfigError([`${configFile}: expert ${source} is not one of family ${plan.family}'s experts`]);
    return expert.domain!;
  });
  const texts = expertDomains.map((d) => ({ domain: d, text: domainOf(d).trainText }));
  const heldOut = expertDomains.map((d) => ({ domain: d, text: heldOutText(domainOf(d).heldOut.map((r) => r.text), plan.qualityBytes) }));
  const checkpoints: ZooMoeCheckpoint[] = [];
  checkpoints.push(await finish(hiddenDir, "hidden", 2, null));

  // 2. Trained gates (BTX), top-2 and top-1, both from the hidden-state gates.
  // Trained with two experts per token: with one, Mixtral's renormalised weight is always 1 and
  // the gates would get no gradient from the cross-entropy. The top-1 mixture runs these gates with k = 1.
  log(`${plan.family}-trained: ${plan.gates.steps} gate-training steps (top-2)`);
  const result = await trainGates({ moeDir: path.join(hiddenDir, "hf"), texts, ...plan.gates, expertsPerToken: 2, expertDomains, progress });
  const n = result.losses.ce.length;
  const training = {
    steps: result.step, seconds: round(result.seconds), stepsPerSecond: round(result.stepsPerSecond),
    finalCe: round(mean(result.losses.ce.slice(Math.floor(0.9 * n)))), finalBalance: round(mean(result.losses.balance.slice(Math.floor(0.9 * n)))),
    ...(plan.gates.domainLossCoef ? { finalRouting: round(mean(result.losses.domain.slice(Math.floor(0.9 * n)))) } : {}),
  };
  const trained = readWeights(result.model);
  const { config, tokenizer } = result.model;
  disposeTrainModel(result.model);
  for (const k of [2, 1]) {
    const id = `${plan.family}-trained-top${k}`;
    const dir = path.join(moeRoot, id);
    const tmp = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-zoo-moe-"));
    try {
      const model = createTrainModel(withExpertsPerToken(config, k), { seed: 0, init: trained, tokenizer });
      await exportHf(model, path.join(tmp, "hf"));
      disposeTrainModel(model);
      await fs.rm(dir, { recursive: true, force: true });
      await fs.mkdir(dir, { recursive: true });
      await convertHfToGguf(path.join(tmp, "hf"), path.join(dir, "model.gguf"), { dtype: "f32", name: `cogen-zoo-moe-${id}` });
      checkpoints.push(await finish(dir, "trained", k, training, path.join(tmp, "hf")));
    } finally {
      await fs.rm(tmp, { recursive: true, force: true });
    }
  }
  const manifest: ZooMoeManifest = { format: "cogen-zoo-moe/1", plan, experts: expertDomains, checkpoints, seconds: round((Date.now() - started) / 1000) };
  await writeFileAtomic(path.join(options.zooDir, ZOO_MOE_MANIFEST), JSON.stringify(manifest, null, 2) + "\n");
  return manifest;

  /** GGUF beside the HF folder (hidden) or from a temporary one (trained), and the gate quality. */
  async function finish(dir: string, gates: "hidden" | "trained", k: number, training: ZooMoeCheckpoint["training"], hfDir = path.join(dir, "hf")): Promise<ZooMoeCheckpoint> {
    const gguf = path.join(dir, "model.gguf");
    if (gates === "hidden") await convertHfToGguf(hfDir, gguf, { dtype: "f32", name: `cogen-zoo-moe-${path.basename(dir)}` });
    const { model } = await loadMixtralTrainModel(hfDir, { expertsPerToken: k });
    try {
      const quality = await gateQuality(model, model.tokenizer!, heldOut, { expertDomains, seqLen: plan.gates.seqLen });
      log(`${path.basename(dir)}: gate quality (held-out tokens routed top-1 to the domain's expert) ${quality.macroShare.toFixed(3)} (chance ${quality.chance.toFixed(3)})`);
      return {
        id: path.basename(dir), folder: rel(dir), expertsPerToken: k, gates,
        files: { gguf: rel(gguf), hf: gates === "hidden" ? rel(hfDir) : null },
        training, gateQuality: roundQuality(quality), ggufBytes: (await fs.stat(gguf)).size,
      };
    } finally {
      disposeTrainModel(model);
    }
  }
}

/** Read zoo/moe/manifest.json, or undefined when the zoo has no MoE checkpoints. */
export async function readZooMoeManifest(zooDir: string): Promise<ZooMoeManifest | undefined> {
  const file = path.join(zooDir, ZOO_MOE_MANIFEST);
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch {
    return undefined;
  }
  const parsed = JSON.parse(text) as ZooMoeManifest;
  if (parsed.format !== "cogen-zoo-moe/1") throw new ConfigError([`${file}: not a zoo MoE manifest (format ${JSON.stringify(parsed.format)})`]);
  return parsed;
}

/** Whole held-out records, in order, until `bytes` are reached. */
function heldOutText(records: readonly string[], bytes: number): string {
  const out: string[] = [];
  let size = 0;
  for (const r of records) {
    if (size >= bytes) break;
    out.push(r);
    size += Buffer.byteLength(r) + 1;
  }
  return out.join("\n");
}

function mean(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
}

function round(x: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function roundQuality(q: GateQuality): GateQuality {
  return {
    macroShare: round(q.macroShare), chance: round(q.chance),
    domains: Object.fromEntries(Object.entries(q.domains).map(([d, v]) => [d, { tokens: v.tokens, share: round(v.share), perLayer: v.perLayer.map((x) => round(x)), experts: v.experts.map((x) => round(x)) }])),
  };
}
