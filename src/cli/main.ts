#!/usr/bin/env node
/**
 * `cogen VERB ...`: finds the verb's module and runs it. Each verb lives in its own file and only
 * parses flags, calls the library, and prints. User errors (CogenError) print one clean message.
 */
import { CogenError } from "../core/errors.js";
import { describeFileSystemFault, isFileMissing, outputPathOf } from "../core/files.js";
import { packageVersion } from "../core/package-root.js";
import { didYouMean } from "../core/suggest.js";
import { HelpShown, UsageError } from "./args.js";

type Verb = { summary: string; load: () => Promise<{ run(argv: string[]): Promise<number> }> };

const verbs: Record<string, Verb> = {
  inspect: { summary: "show the format, metadata and tensors of a GGUF, a safetensors file or an HF folder", load: () => import("./inspect.js") },
  convert: { summary: "convert a llama-family HF folder to GGUF, or a GGUF back to an HF folder", load: () => import("./convert.js") },
  zoo: { summary: "the embedded zoo: 'data' builds its corpora and items, 'build' trains its experts, 'eval' evaluates them, 'moe' builds its mixtures, 'unseen' adds the ninth domain", load: () => import("./zoo.js") },
  rank: { summary: "rank models from per-item results, lm-eval output or pairwise votes, with intervals", load: () => import("./rank.js") },
  select: { summary: "pick the best model(s) for a domain from a saved ranking", load: () => import("./select.js") },
  merge: { summary: "merge models from a mergekit YAML config (linear, ties, dare, slerp, ...)", load: () => import("./merge.js") },
  moe: { summary: "assemble same-base experts into one mixture of experts from a mergekit-moe config", load: () => import("./moe.js") },
  lora: { summary: "extract a LoRA adapter from a fine-tune (truncated SVD), or merge one into a model", load: () => import("./lora.js") },
  adapt: { summary: "new experts under small budgets: 'lora' trains one on your text, 'compose' weights existing adapters from a few examples", load: () => import("./adapt.js") },
  eval: { summary: "evaluate models (models file) on task items; write per-item results for rank", load: () => import("./eval.js") },
  worker: { summary: "run evaluation jobs from a Redis queue (cogen eval --queue)", load: () => import("./worker.js") },
  distill: { summary: "knowledge fusion data: experts' top-K targets for a pivot, InfiFPO preference records", load: () => import("./distill.js") },
  serve: { summary: "serve experts and unified models as one OpenAI-compatible endpoint", load: () => import("./serve.js") },
  unify: { summary: "the main job on your experts: evaluate, rank, build router/ensemble/merge/MoE, judge, write a served unified model", load: () => import("./unify.js") },
  hub: { summary: "run the hub: contributors register experts, it ranks them continuously and publishes the composition ('contribute' registers one)", load: () => import("./hub.js") },
  demo: { summary: "the main job on the zoo: rank experts, build unified models, judge them on held-out items", load: () => import("./demo.js") },
};

/** The verbs `cogen` knows, in help order (tests run every one of them). */
export const VERBS: readonly string[] = Object.keys(verbs);

export function usage(): string {
  const width = Math.max(...Object.keys(verbs).map((v) => v.length));
  const lines = Object.entries(verbs).map(([name, verb]) => `  ${name.padEnd(width)}  ${verb.summary}`);
  return `usage: cogen <command> [options]\n\ncommands:\n${lines.join("\n")}\n\nRun 'cogen <command> --help' for a command's options; 'cogen --version' prints the version.`;
}

/**
 * Run `cogen ARGV`; the exit code. One convention for every verb: `--help` exits 0, a wrong
 * command line exits 2, bad input or config exits 1, each error as `cogen <verb>: <message>`.
 */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--version" || name === "-V" || name === "version") {
    console.log(`cogen ${await packageVersion()}`);
    return 0;
  }
  if (!name || name === "--help" || name === "-h" || name === "help") {
    if (name) console.log(usage());
    else console.error(usage());
    return name ? 0 : 2;
  }
  const verb = verbs[name];
  if (!verb) {
    console.error(`cogen: unknown command '${name}'${didYouMean(name, VERBS)}\n\n${usage()}`);
    return 2;
  }
  try {
    const module = await verb.load();
    return await module.run(rest);
  } catch (error) {
    if (error instanceof HelpShown) return 0;
    if (error instanceof UsageError) {
      const command = error.command ?? name;
      console.error(`cogen ${command}: ${error.message}\nRun 'cogen ${command} --help' for usage.`);
      return 2;
    }
    if (CogenError.isInstance(error)) {
      console.error(errorLine(name, error.message));
      return 1;
    }
    // A file a library opened without its own check: the same words as every other missing file.
    const missing = error as NodeJS.ErrnoException;
    if (isFileMissing(error) && typeof missing.path === "string") {
      console.error(`cogen ${name}: ${outputPathOf(missing.path)}: no such file or folder`);
      return 1;
    }
    // An output that cannot be written (permissions, space, a file in the way): one line, no stack.
    const fault = describeFileSystemFault(error);
    if (fault) {
      console.error(`cogen ${name}: ${fault}`);
      return 1;
    }
    throw error;
  }
}

/** `cogen VERB: message`, without repeating a verb (or `verb sub`) the message already starts with. */
function errorLine(verb: string, message: string): string {
  const prefixed = new RegExp(`^${verb}( [a-z][a-z-]*)?: `).exec(message);
  return prefixed ? `cogen ${verb}${prefixed[1] ?? ""}: ${message.slice(prefixed[0].length)}` : `cogen ${verb}: ${message}`;
}

const invokedDirectly = process.argv[1] && /cli[\\/]main\.(ts|js)$/.test(process.argv[1]);
if (invokedDirectly) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
