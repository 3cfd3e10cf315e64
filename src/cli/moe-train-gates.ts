import { promises as fs } from "node:fs";
import * as path from "node:path";
import { readFailure } from "../core/files.js";
import { streamProgress } from "../core/progress.js";
import { gateQuality, type GateQuality } from "../fuse/moe/gate-quality.js";
import { trainGates, writeTrainedMoe } from "../fuse/moe/train-gates.js";
import { buildCorpus } from "../zoo/corpora/build.js";
import { disposeTrainModel } from "../zoo/train/model.js";
import { integerFlag, numberFlag, parseFlags, UsageError } from "./args.js";
import { formatTable, printJson } from "./output.js";

const HELP = `usage: cogen moe train-gates MOE_DIR OUT_DIR (--data [DOMAIN=]FILE ... | --zoo-corpora)
                 [--steps 200] [--batch-size 16] [--seq-len 64] [--lr 0.01] [--seed 0]
                 [--experts-per-token K] [--out-experts-per-token K] [--aux-loss-coef 0.01] [--train-shared [--shared-lr X]]
                 [--routing-loss-coef X --expert-domains D1,D2,...]
                 [--checkpoint DIR] [--checkpoint-every N] [--out-format hf|gguf]
                 [--expert-domains D1,D2,... [--held-out DOMAIN=FILE ...]] [--json]

Branch-Train-MiX router training: fine-tune the gates of a Mixtral folder (from 'cogen moe') on
mixed-domain training text, experts frozen, with cross-entropy plus Mixtral's load-balancing loss
(coef · E·Σ f_e·P_e). Domains are mixed evenly (each batch row takes the next domain in turn).
Deterministic (steps, not seconds); with --checkpoint an interrupted run resumes where it stopped.
Writes OUT_DIR as 'cogen moe' does.

  --data [DOMAIN=]FILE  training text of one domain (repeat; DOMAIN defaults to the file's name)
  --zoo-corpora         the zoo corpora's training text of every domain (never held-out records)
  --experts-per-token K top-k while training and in the output (default: MOE_DIR's; at least 2 for
                        gates only: with one the renormalised weight is always 1, so no gradient)
  --out-experts-per-token K  top-k written to the output (default: the training's), e.g. 1
  --aux-loss-coef X     load-balancing coefficient (default: MOE_DIR's router_aux_loss_coef, else 0.01)
  --train-shared        also train attention, norms and embeddings (experts stay frozen)
  --shared-lr X         learning rate of those shared weights (default: --lr)
  --routing-loss-coef X also teach every token of a domain's text to route to that domain's expert
                        (cross-entropy on the gate logits; needs --expert-domains; default 0)
  --checkpoint DIR      save every --checkpoint-every steps (default 50) and resume from DIR
  --out-format F        hf (default: MixtralForCausalLM folder) or gguf (OUT_DIR/model.gguf)
  --expert-domains L    the domain of each expert in order (- for none): print the gate quality,
                        the share of held-out tokens routed top-1 to the domain's own expert,
                        on --held-out files (default with --zoo-corpora: the corpora's held-out records)
  --json                print the report as JSON`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    data: { type: "string", multiple: true }, "zoo-corpora": { type: "boolean" }, steps: { type: "string" },
    "batch-size": { type: "string" }, "seq-len": { type: "string" }, lr: { type: "string" }, seed: { type: "string" },
    "experts-per-token": { type: "string" }, "out-experts-per-token": { type: "string" }, "aux-loss-coef": { type: "string" }, "train-shared": { type: "boolean" },
    "shared-lr": { type: "string" }, "routing-loss-coef": { type: "string" },
    checkpoint: { type: "string" }, "checkpoint-every": { type: "string" }, "out-format": { type: "string" },
    "expert-domains": { type: "string" }, "held-out": { type: "string", multiple: true }, json: { type: "boolean" },
  }, HELP);
  if (positionals.length !== 2) throw new UsageError([`give MOE_DIR and OUT_DIR (got ${positionals.length} argument${positionals.length === 1 ? "" : "s"})`]);
  const [moeDir, outDir] = positionals;
  const problems: string[] = [];
  const int = (flag: string, fallback: number | undefined, min: number): number | undefined =>
    integerFlag(values[flag as keyof typeof values] as string | undefined, `--${flag}`, problems, min) ?? fallback;
  const num = (flag: string, fallback: number | undefined): number | undefined =>
    numberFlag(values[flag as keyof typeof values] as string | undefined, `--${flag}`, problems, { min: 0 }) ?? fallback;
  const steps = int("steps", 200, 1)!;
  const batchSize = int("batch-size", 16, 1)!;
  const seqLen = int("seq-len", 64, 2)!;
  const seed = int("seed", 0, 0)!;
  const lr = num("lr", 1e-2)!;
  const expertsPerToken = int("experts-per-token", undefined, 1);
  const outExpertsPerToken = int("out-experts-per-token", undefined, 1);
  const routerAuxLossCoef = num("aux-loss-coef", undefined);
  const sharedLr = num("shared-lr", undefined);
  const domainLossCoef = num("routing-loss-coef", undefined);
  const checkpointEvery = int("checkpoint-every", 50, 1);
  const format = values["out-format"] ?? "hf";
  if (format !== "hf" && format !== "gguf") problems.push(`--out-format: expected hf or gguf, got '${format}'`);
  const data = values.data ?? [];
  if (data.length === 0 && !values["zoo-corpora"]) problems.push("give training text: --data [DOMAIN=]FILE (repeatable) or --zoo-corpora");
  if (data.length > 0 && values["zoo-corpora"]) problems.push("--data and --zoo-corpora exclude each other");
  const expertDomains = values["expert-domains"]?.split(",").map((d) => d.trim()).map((d) => (d === "-" ? null : d));
  if (values["held-out"] && !expertDomains) problems.push("--held-out needs --expert-domains (which expert is whose)");
  if (domainLossCoef && !expertDomains) problems.push("--routing-loss-coef needs --expert-domains (which expert is whose)");
  if (sharedLr !== undefined && !values["train-shared"]) problems.push("--shared-lr needs --train-shared");
  if (problems.length) throw new UsageError(problems, "moe train-gates");

  const corpus = values["zoo-corpora"] ? await buildCorpus() : undefined;
  const texts = corpus ? corpus.domains.map((d) => ({ domain: d.name, text: d.trainText })) : await Promise.all(data.map(readDomainFile));
  const heldOut = values["held-out"]
    ? await Promise.all(values["held-out"].map(readDomainFile))
    : corpus && expertDomains
      ? corpus.domains.filter((d) => expertDomains.includes(d.name)).map((d) => ({ domain: d.name, text: d.heldOut.slice(0, 40).map((r) => r.text).join("\n") }))
      : [];

  const progress = values.json ? undefined : streamProgress();
  const result = await trainGates({
    moeDir, texts, steps, batchSize, seqLen, lr, seed, expertsPerToken, routerAuxLossCoef, trainShared: Boolean(values["train-shared"]),
    ...(sharedLr !== undefined ? { sharedLr } : {}), ...(domainLossCoef ? { domainLossCoef, expertDomains } : {}),
    ...(values.checkpoint ? { checkpointDir: values.checkpoint, checkpointEvery } : {}), ...(progress ? { progress } : {}),
  });
  try {
    const files = await writeTrainedMoe(result.model, outDir, format as "hf" | "gguf", outExpertsPerToken);
    let quality: GateQuality | undefined;
    if (expertDomains && heldOut.length) quality = await gateQuality(result.model, result.tokenizer, heldOut, { expertDomains, seqLen });
    const n = result.losses.ce.length;
    const report = {
      outDir, files, steps: result.step, startStep: result.startStep, seconds: result.seconds, stepsPerSecond: result.stepsPerSecond,
      trainedWeights: result.trainedWeights, expertsPerToken: outExpertsPerToken ?? result.model.moe!.expertsPerToken, domains: texts.map((t) => t.domain),
      finalCe: n ? result.losses.ce[n - 1] : null, finalBalance: n ? result.losses.balance[n - 1] : null, gateQuality: quality ?? null,
    };
    if (values.json) {
      printJson(report);
      return 0;
    }
    console.log(`trained ${result.trainedWeights} gate weights for ${result.step - result.startStep} steps (${result.stepsPerSecond.toFixed(2)} steps/s, ` +
      `top-${report.expertsPerToken}, ${texts.length} domains) → ${outDir}: cross-entropy ${report.finalCe?.toFixed(3) ?? "-"}, balance ${report.finalBalance?.toFixed(3) ?? "-"}`);
    if (quality) {
      console.log(`\ngate quality: share of held-out tokens routed top-1 to the domain's own expert (chance ${quality.chance.toFixed(3)})`);
      console.log(formatTable(["domain", "tokens", "share", "per layer"], Object.entries(quality.domains).map(([d, q]) => [d, q.tokens, q.share.toFixed(3), q.perLayer.map((x) => x.toFixed(2)).join(" ")]), ["l", "r", "r", "l"]));
      console.log(`macro share ${quality.macroShare.toFixed(3)}`);
    }
    return 0;
  } finally {
    disposeTrainModel(result.model);
  }
}

/** `DOMAIN=FILE` or `FILE` (domain = the file's name without extension) → its text. */
async function readDomainFile(spec: string): Promise<{ domain: string; text: string }> {
  const eq = spec.indexOf("=");
  const file = eq > 0 ? spec.slice(eq + 1) : spec;
  const domain = eq > 0 ? spec.slice(0, eq) : path.basename(file).replace(/\.[^.]*$/, "").replace(/\.train$/, "");
  try {
    return { domain, text: await fs.readFile(file, "utf8") };
  } catch (error) {
    throw readFailure(file, error);
  }
}
