/**
 * The zoo's data: how long it takes to build, and how close trivial solvers stay to chance.
 *
 *   npx tsx bench/zoo-data.ts [--runs 3] [--seeds 5]
 *
 * Time: buildCorpus (parse WordNet + Factbook, assign domains, split) and generateItems, each
 * against a reference measured side by side in the same run: reading the same source files and
 * splitting them into lines / parsing their JSON (the least any builder must do). Ratios are
 * our time / reference time (medians over --runs).
 * Cues: each multiple-choice kind's trivial-solver accuracy over --seeds seeds (median, with the
 * standard error of a single seed's estimate), next to chance.
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { buildCorpus, defaultDataDirs } from "../src/zoo/corpora/build.js";
import { generateItems } from "../src/zoo/items/generate.js";
import { solverAccuracy, TRIVIAL_SOLVERS } from "../src/zoo/items/trivial.js";

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}
const runs = flag("runs", 3);
const seeds = flag("seeds", 5);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function reference(): Promise<number> {
  const { wordnetDir, factbookDir } = defaultDataDirs();
  let lines = 0;
  for (const f of ["data.noun", "data.verb", "data.adj", "data.adv"]) lines += (await fs.readFile(path.join(wordnetDir, f), "utf8")).split("\n").length;
  for (const region of await fs.readdir(factbookDir, { withFileTypes: true })) {
    if (!region.isDirectory()) continue;
    for (const f of await fs.readdir(path.join(factbookDir, region.name))) {
      if (f.endsWith(".json")) lines += Object.keys(JSON.parse(await fs.readFile(path.join(factbookDir, region.name, f), "utf8"))).length;
    }
  }
  return lines;
}

async function time<T>(fn: () => Promise<T> | T): Promise<[number, T]> {
  const t0 = performance.now();
  const value = await fn();
  return [(performance.now() - t0) / 1000, value];
}

const refTimes: number[] = [];
const buildTimes: number[] = [];
const itemTimes: number[] = [];
for (let r = 0; r < runs; r++) {
  refTimes.push((await time(reference))[0]);
  const [tb, corpus] = await time(() => buildCorpus());
  buildTimes.push(tb);
  itemTimes.push((await time(() => generateItems(corpus)))[0]);
}
const ref = median(refTimes);
console.log(`reference (read + split the sources): ${ref.toFixed(2)} s`);
console.log(`buildCorpus:   ${median(buildTimes).toFixed(2)} s  = ${(median(buildTimes) / ref).toFixed(1)}x reference`);
console.log(`generateItems: ${median(itemTimes).toFixed(2)} s  = ${(median(itemTimes) / ref).toFixed(1)}x reference\n`);

const corpus0 = await buildCorpus();
console.log("domain      train bytes  train lines  held-out bytes  held-out lines  factbook records");
for (const d of corpus0.domains) {
  const s = d.stats;
  console.log(`${d.name.padEnd(10)} ${String(s.trainBytes).padStart(12)} ${String(s.trainLines).padStart(12)} ${String(s.heldOutBytes).padStart(15)} ${String(s.heldOutLines).padStart(15)} ${String(s.factbookRecords).padStart(17)}`);
}

const acc = new Map<string, { accuracy: number[]; se: number[]; n: number[] }>();
for (let seed = 0; seed < seeds; seed++) {
  const items = generateItems(await buildCorpus({ seed }));
  for (const kind of ["definition", "cloze", "continuation"] as const) {
    for (const [name, solver] of Object.entries(TRIVIAL_SOLVERS)) {
      const a = solverAccuracy(items[kind], solver);
      const key = `${kind.padEnd(13)} ${name.padEnd(22)}`;
      const entry = acc.get(key) ?? { accuracy: [], se: [], n: [] };
      entry.accuracy.push(a.accuracy);
      entry.se.push(a.standardError);
      entry.n.push(a.items);
      acc.set(key, entry);
    }
  }
}
console.log(`\ntrivial solvers (median over ${seeds} seeds; chance 0.250)`);
for (const [key, e] of acc) {
  console.log(`${key} ${median(e.accuracy).toFixed(3)} ± ${median(e.se).toFixed(3)}  (items per seed ≈ ${median(e.n)}; range ${Math.min(...e.accuracy).toFixed(3)}–${Math.max(...e.accuracy).toFixed(3)})`);
}
