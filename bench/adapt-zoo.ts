/**
 * issue 12's lora and compose goals on the zoo (family A), on one domain's held-out records
 * (`measureAdaptZooGoals`, src/adapt/zoo-goals.ts): `adaptLora` from base-a with the zoo experts'
 * budget (rank 16, ≤ 200 steps, lr 4e-3, batch 16 × 64), and `composeAdapters` from 20 of the
 * domain's train records over the other domains' adapters, against base-a and the uniform
 * average of those adapters. Every model is scored by llama.cpp (base GGUF + runtime adapter at a
 * scale) on the same held-out records; bits per byte over all records, and the paired per-record
 * difference against base-a with its standard error. The default domain is the zoo's unseen one
 * (music: no zoo model trained on it; compose then uses all eight adapters); any of the eight can
 * be named instead (then base-a saw it in its mixture, and the zoo's own expert is a row).
 *
 *   npx tsx bench/adapt-zoo.ts [--domain music] [--steps 200 (0: no LoRA run)] [--evaluations N (default: compose's, 40 per adapter)] [--records 80] [--l1 0.05]
 */
import * as path from "node:path";
import { parseArgs } from "node:util";
import { measureAdaptZooGoals, type PairedDelta } from "../src/adapt/zoo-goals.js";

const { values } = parseArgs({
  options: { domain: { type: "string" }, steps: { type: "string" }, evaluations: { type: "string" }, records: { type: "string" }, l1: { type: "string" } },
});
const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
const report = await measureAdaptZooGoals({
  zoo: path.resolve(import.meta.dirname, "../zoo"), domain: values.domain, steps: num(values.steps),
  evaluations: num(values.evaluations), records: num(values.records), l1: num(values.l1),
});
const { lora, compose } = report;
if (lora) console.log(`adapt lora: ${lora.stepsRun} steps (best ${lora.bestStep}) in ${lora.seconds.toFixed(0)} s; own held-out split ${lora.heldOutBpbBefore.toFixed(3)} → ${lora.heldOutBpbAfter.toFixed(3)} bpb`);
console.log(`adapt compose: ${compose.evaluations} evaluations in ${compose.seconds.toFixed(1)} s = ${compose.evaluationsPerSecond.toFixed(2)} evaluations/s`);
console.log(`  weights ${compose.adapters.map((d, i) => `${d} ${compose.weights[i].toFixed(2)}`).join(", ")}`);
console.log(`  on the ${compose.examples} examples: base ${compose.examplesBpb.base.toFixed(3)}, uniform ${compose.examplesBpb.uniform.toFixed(3)}, composed ${compose.examplesBpb.composed.toFixed(3)} bpb`);

const signed = (v: number) => `${v >= 0 ? "+" : ""}${v.toFixed(3)}`;
const delta = (d: PairedDelta) => `${signed(d.mean)} ± ${Number.isFinite(d.se) ? d.se.toFixed(3) : "n/a"}`;
console.log(`\n${report.domain}${report.unseen ? " (unseen by every zoo model)" : ""}: ${report.records} held-out records, bits per byte (llama.cpp); Δ = per-record bpb minus base-a's, mean ± standard error`);
for (const row of report.rows) console.log(`  ${row.name.padEnd(34)} ${row.bpb.toFixed(3)}   Δ ${delta(row.vsBase)}`);
const vs = report.composeVsUniform;
console.log(`  compose − uniform average: ${delta(vs)} (${(Math.abs(vs.mean) / vs.se).toFixed(1)} standard errors)`);
