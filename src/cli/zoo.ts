/**
 * `cogen zoo SUBCOMMAND ...`: the embedded default's zoo. Each subcommand is one entry in
 * `subcommands` with its own help and runner; `data` builds the corpora and evaluation items.
 */
import { streamProgress } from "../core/progress.js";
import { buildZooData, DEFAULT_ZOO_DATA_DIR, writeZooData } from "../zoo/corpora/write.js";
import { DEFAULT_ZOO_DIR } from "../zoo/build/manifest.js";
import { writeUnseenDomain } from "../zoo/build/unseen.js";
import { integerFlag, parseFlags, subcommand, UsageError } from "./args.js";
import { runBuild, runEvalZoo } from "./zoo-build.js";
import { formatBytes, formatTable, printJson } from "./output.js";

type Subcommand = { summary: string; run: (argv: string[]) => Promise<number> };

const subcommands: Record<string, Subcommand> = {
  data: { summary: "build the zoo's multi-domain corpora and evaluation items (WordNet 3.1 + World Factbook)", run: runData },
  build: { summary: "train and export the zoo's tiny domain experts (bases, LoRA experts, control; GGUF + HF + adapters)", run: runBuild },
  eval: { summary: "evaluate every zoo model × domain with llama.cpp (bits per byte, multiple-choice accuracy)", run: runEvalZoo },
  unseen: { summary: "add the ninth domain, which no zoo model trained on, to a built zoo (its train text and held-out items)", run: runUnseen },
  moe: { summary: "build the zoo's mixture-of-experts checkpoints (zoo/moe: hidden-state and trained gates)", run: (argv) => import("./zoo-moe.js").then((m) => m.runZooMoe(argv)) },
};

export function zooUsage(): string {
  const width = Math.max(...Object.keys(subcommands).map((s) => s.length));
  const lines = Object.entries(subcommands).map(([name, s]) => `  ${name.padEnd(width)}  ${s.summary}`);
  return `usage: cogen zoo <subcommand> [options]\n\nsubcommands:\n${lines.join("\n")}\n\nRun 'cogen zoo <subcommand> --help' for its options.`;
}

export async function run(argv: string[]): Promise<number> {
  const { sub, rest } = subcommand(argv, Object.keys(subcommands), zooUsage(), "zoo");
  return subcommands[sub].run(rest);
}

const DATA_HELP = `usage: cogen zoo data [--out DIR] [--seed N] [--per-domain N] [--json]

Build the zoo's corpora (eight domains from WordNet 3.1 and the World Factbook, split into
train text and held-out records by a hash of each headword) and its evaluation items
(definition, cloze, continuation: multiple choice; bits per byte), write them to DIR and print
each domain's size.

  --out DIR         output folder (default ${DEFAULT_ZOO_DATA_DIR}); replaced atomically
  --seed N          split and item seed (default 0)
  --per-domain N    multiple-choice items per domain and kind (default 200)
  --json            print the manifest as JSON`;

async function runData(argv: string[]): Promise<number> {
  const { values } = parseFlags(
    argv,
    { out: { type: "string" }, seed: { type: "string" }, "per-domain": { type: "string" }, json: { type: "boolean" } },
    DATA_HELP,
    { positionals: 0 },
  );
  const problems: string[] = [];
  const seed = integerFlag(values.seed, "--seed", problems, 0, 0xffffffff) ?? 0;
  const perDomain = integerFlag(values["per-domain"], "--per-domain", problems, 1, 100_000) ?? 200;
  if (problems.length) throw new UsageError(problems, "zoo data");
  const out = values.out ?? DEFAULT_ZOO_DATA_DIR;
  const data = await buildZooData({ seed, perDomain }, values.json ? undefined : streamProgress());
  await writeZooData(out, data);
  if (values.json) {
    printJson({ out, ...data.manifest });
    return 0;
  }
  const rows = data.manifest.domains.map((d) => [
    d.name, formatBytes(d.stats.trainBytes), d.stats.trainLines, formatBytes(d.stats.heldOutBytes), d.stats.heldOutLines,
    d.stats.factbookRecords, d.items.definition, d.items.cloze, d.items.continuation, d.items.bitsPerByte,
  ]);
  console.log(formatTable(
    ["domain", "train", "lines", "held out", "lines", "factbook", "definition", "cloze", "continuation", "bpb"],
    rows,
    ["l", "r", "r", "r", "r", "r", "r", "r", "r", "r"],
  ));
  console.log(`\nwrote ${out} (seed ${data.manifest.seed}; items in ${out}/items, corpora in ${out}/corpora)`);
  return 0;
}

const UNSEEN_HELP = `usage: cogen zoo unseen [--zoo DIR] [--json]

Build the zoo's ninth domain the way the eight are built (WordNet records, the same hash split
and item generators, the zoo's data seed) from records no other domain holds, and write it into
the built zoo DIR (default ${DEFAULT_ZOO_DIR}): unseen/<domain>.train.txt, unseen/items/*.jsonl,
and its entry in manifest.json. No model is trained or changed.`;

async function runUnseen(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, { zoo: { type: "string" }, json: { type: "boolean" } }, UNSEEN_HELP);
  if (positionals.length > 0) throw new UsageError([`unexpected argument '${positionals[0]}'`], "zoo unseen");
  const entry = await writeUnseenDomain(values.zoo ?? DEFAULT_ZOO_DIR);
  if (values.json) printJson(entry);
  else {
    const items = Object.entries(entry.items).map(([kind, i]) => `${i.count} ${kind}`).join(", ");
    console.log(`${entry.name}: ${formatBytes(entry.trainBytes)} of train text, ${entry.heldOutRecords} held-out records (${entry.droppedShared} shared with other domains dropped); items: ${items}`);
  }
  return 0;
}
