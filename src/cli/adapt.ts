import { composeAdapters } from "../adapt/compose.js";
import { evolveMerge } from "../adapt/evolve.js";
import { bullMqEvolveQueue } from "../adapt/evolve-queue.js";
import { adaptLora } from "../adapt/lora.js";
import { streamProgress } from "../core/progress.js";
import { parseFlags, parseSize, QUEUE_FLAGS, queueChoice, UsageError, subcommand } from "./args.js";
import { printJson } from "./output.js";

const HELP = `usage: cogen adapt lora --base MODEL --data PATH OUT_DIR [options] [--json]
       cogen adapt compose --base MODEL --adapters A1 A2 ... --examples FEW.jsonl OUT [options] [--json]
       cogen adapt evolve --config RECIPE.yml --objective TASKS.jsonl OUT [options] [--json]

lora     train a LoRA expert on your own text (a UTF-8 .txt file — paragraphs separated by blank
         lines —, a folder of .txt/.jsonl files, or JSONL with a "text" field) from a llama-family
         base (Hugging Face folder or GGUF). A hash split holds out ~10% of the documents; training
         stops early when held-out bits per byte stop improving. OUT_DIR gets adapter/ (PEFT),
         adapter.gguf (llama.cpp), hf/ and model.gguf (merged), README.md (model card), card.json and
         models.yaml (for cogen eval / cogen serve). The run is estimated first and refused when over
         --max-memory or --max-minutes.
  --rank R (16)  --alpha A (=rank)  --steps N (200)  --lr X (4e-3)  --batch-size B (16)  --seq-len T (64)
  --seed N (0)   --eval-every N (25)  --patience N (2)  --max-memory SIZE  --max-minutes M
  --resume       continue from OUT_DIR's checkpoint (otherwise it is started afresh)
  --id NAME      the expert's id in models.yaml (default: OUT_DIR's name)

compose  LoraHub: search weights in [-bound, bound] for existing adapters of one base (PEFT folders,
         or expert folders with lora/) so that their weighted sum fits a few examples (JSONL with
         "text", or "input" and "output"): loss = examples' bits per byte + l1·mean|w|, gradient-free
         (CMA-ES), every candidate run in llama.cpp with runtime adapter scales. OUT gets adapter/
         (PEFT), adapter.gguf and weights.json.
  --evaluations N (40 per adapter, at least 100)  --l1 X (0.05)  --bound X (1.5)  --sigma X (0.5)  --seed N (0)

evolve   CMA-ES over the per-model (and per-layer-group) parameters that RECIPE.yml's 'search' names,
         within its bounds (README: "Evolved merge recipes"). Each candidate is merged in RAM and
         scored on TASKS.jsonl (macro bits per byte, or 1 − macro accuracy; lower is better); the
         recipe's starting point is scored first as the reference. OUT gets merge.yml (the best
         candidate as a plain mergekit YAML: 'cogen merge OUT/merge.yml DIR' rebuilds it) and
         report.json. Progress is saved per generation in OUT.evolve-state/; rerunning the same
         command resumes there.
  --evaluations N (60)  --population N (4 + 3 ln dims)  --sigma X (0.25, unit cube)  --seed N (0)
  --merge-seed N (0, for dare_*/della*)  --context-size N
  --queue URL    redis://HOST:PORT: candidates become jobs that 'cogen worker --queue URL' processes
  --connect-timeout S  with --queue: exit (status 1) when Redis cannot be reached for S seconds
                 run in parallel (on machines with the recipe's models at the same paths)`;

const int = (v: string | undefined, flag: string, problems: string[]): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n)) problems.push(`${flag}: expected an integer, got '${v}'`);
  return n;
};
const num = (v: string | undefined, flag: string, problems: string[]): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) problems.push(`${flag}: expected a number, got '${v}'`);
  return n;
};

export async function run(argv: string[]): Promise<number> {
  const { sub, rest } = subcommand(argv, ["lora", "compose", "evolve"], HELP, "adapt");
  return sub === "lora" ? lora(rest) : sub === "compose" ? compose(rest) : evolve(rest);
}

async function lora(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    base: { type: "string" }, data: { type: "string" }, rank: { type: "string" }, alpha: { type: "string" }, steps: { type: "string" },
    lr: { type: "string" }, "batch-size": { type: "string" }, "seq-len": { type: "string" }, seed: { type: "string" },
    "eval-every": { type: "string" }, patience: { type: "string" }, "max-memory": { type: "string" }, "max-minutes": { type: "string" },
    resume: { type: "boolean" }, id: { type: "string" }, json: { type: "boolean" },
  }, HELP, { command: "adapt lora" });
  const problems: string[] = [];
  if (positionals.length !== 1) problems.push("give exactly one OUT_DIR");
  if (!values.base) problems.push("--base is required");
  if (!values.data) problems.push("--data is required");
  const options = {
    rank: int(values.rank, "--rank", problems), alpha: num(values.alpha, "--alpha", problems), steps: int(values.steps, "--steps", problems),
    lr: num(values.lr, "--lr", problems), batchSize: int(values["batch-size"], "--batch-size", problems), seqLen: int(values["seq-len"], "--seq-len", problems),
    seed: int(values.seed, "--seed", problems), evalEvery: int(values["eval-every"], "--eval-every", problems), patience: int(values.patience, "--patience", problems),
    maxMemoryBytes: values["max-memory"] ? parseSize(values["max-memory"], "--max-memory") : undefined,
    maxMinutes: num(values["max-minutes"], "--max-minutes", problems),
  };
  if (problems.length) throw new UsageError(problems, "adapt lora");
  const report = await adaptLora({
    base: values.base!, data: values.data!, outDir: positionals[0], resume: values.resume, id: values.id,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    ...(values.json ? {} : { progress: streamProgress() }),
  });
  if (values.json) printJson(report);
  else {
    console.log(`${report.id}: ${report.stepsRun} steps${report.stoppedEarly ? " (stopped early)" : ""}, exported step ${report.bestStep}; held-out ${report.heldOutBpbBefore.toFixed(4)} → ${report.heldOutBpbAfter.toFixed(4)} bits per byte`);
    console.log(`wrote ${report.files.join(", ")} → ${report.outDir} (cogen eval --models ${report.outDir}/models.yaml ...)`);
  }
  return 0;
}

async function compose(argv: string[]): Promise<number> {
  // --adapters takes every following argument up to the next flag.
  const adapters: string[] = [];
  const others: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--adapters") {
      while (i + 1 < argv.length && !argv[i + 1].startsWith("--")) adapters.push(argv[++i]);
    } else others.push(argv[i]);
  }
  const { values, positionals } = parseFlags(others, {
    base: { type: "string" }, examples: { type: "string" }, evaluations: { type: "string" }, l1: { type: "string" },
    bound: { type: "string" }, sigma: { type: "string" }, seed: { type: "string" }, json: { type: "boolean" },
  }, HELP, { command: "adapt compose" });
  const problems: string[] = [];
  if (positionals.length !== 1) problems.push("give exactly one OUT");
  if (!values.base) problems.push("--base is required");
  if (!values.examples) problems.push("--examples is required");
  if (adapters.length === 0) problems.push("--adapters needs at least one adapter");
  const options = {
    maxEvaluations: int(values.evaluations, "--evaluations", problems), l1: num(values.l1, "--l1", problems),
    bound: num(values.bound, "--bound", problems), sigma0: num(values.sigma, "--sigma", problems), seed: int(values.seed, "--seed", problems),
  };
  if (problems.length) throw new UsageError(problems, "adapt compose");
  const report = await composeAdapters({
    base: values.base!, adapters, examples: values.examples!, outDir: positionals[0],
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    ...(values.json ? {} : { progress: streamProgress() }),
  });
  if (values.json) printJson(report);
  else {
    console.log(`weights: ${report.adapters.map((a, i) => `${a} ${report.weights[i].toFixed(3)}`).join(", ")}`);
    console.log(`examples' bits per byte: base ${report.examplesBpb.base.toFixed(4)}, uniform ${report.examplesBpb.uniform.toFixed(4)}, composed ${report.examplesBpb.composed.toFixed(4)}`);
    console.log(`${report.evaluations} evaluations in ${report.seconds.toFixed(1)} s (${report.evaluationsPerSecond.toFixed(2)}/s) → ${report.outDir}`);
  }
  return 0;
}

async function evolve(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    config: { type: "string" }, objective: { type: "string" }, evaluations: { type: "string" }, population: { type: "string" },
    sigma: { type: "string" }, seed: { type: "string" }, "merge-seed": { type: "string" }, "context-size": { type: "string" },
    ...QUEUE_FLAGS, json: { type: "boolean" },
  }, HELP, { command: "adapt evolve" });
  const problems: string[] = [];
  if (positionals.length !== 1) problems.push("give exactly one OUT");
  if (!values.config) problems.push("--config RECIPE.yml is required");
  if (!values.objective) problems.push("--objective TASKS.jsonl is required");
  const queueAt = queueChoice(values, problems);
  const options = {
    evaluations: int(values.evaluations, "--evaluations", problems), population: int(values.population, "--population", problems),
    sigma0: num(values.sigma, "--sigma", problems), seed: int(values.seed, "--seed", problems),
    mergeSeed: int(values["merge-seed"], "--merge-seed", problems), contextSize: int(values["context-size"], "--context-size", problems),
  };
  if (problems.length) throw new UsageError(problems, "adapt evolve");
  if (queueAt) {
    const { reachQueue } = await import("./queue-reachable.js");
    await reachQueue("adapt evolve", queueAt.url, queueAt.timeoutSeconds);
  }
  const report = await evolveMerge({
    recipe: values.config!, objective: values.objective!, outDir: positionals[0],
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    ...(queueAt ? { queue: bullMqEvolveQueue(queueAt.url) } : {}),
    ...(values.json ? {} : { progress: streamProgress() }),
  });
  if (values.json) printJson(report);
  else {
    const what = report.best.metric === "bpb" ? "macro bits per byte" : "objective (lower is better)";
    console.log(`${what}: start ${report.start.objective.toFixed(4)} → best ${report.best.objective.toFixed(4)} (generation ${report.best.generation} of ${report.generations})`);
    console.log(`${report.evaluations} candidates (${report.failed} failed${report.resumedGenerations ? `, ${report.resumedGenerations} generations resumed` : ""}) in ${report.seconds.toFixed(1)} s (${report.candidatesPerMinute.toFixed(2)}/min) → ${report.yamlFile}`);
    for (const w of report.workers) {
      console.log(`  worker ${w.worker}: ${w.candidates} candidates, busy ${(100 * w.busyFraction).toFixed(0)}% of the run, ${w.cpuSecondsPerCandidate.toFixed(2)} CPU s per candidate`);
    }
  }
  return 0;
}
