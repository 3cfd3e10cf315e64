/**
 * Generation speed in llama.cpp of the zoo's top-2 mixture of the 8 family-A experts
 * (zoo/moe/hidden.yml, built here as a GGUF) against one dense expert, side by side in one
 * process: tokens per second, median of several interleaved runs, one thread each (as the zoo's
 * models run). Goal (issue 11): MoE ≥ 0.5× the dense expert.
 *
 * 48 new tokens by default: with the prompt they fit the 64 positions the zoo's models were trained
 * on (their context; llama.cpp refuses none, but cogen opens a model at most at its trained context).
 *
 *   npx tsx bench/moe-generate.ts [--tokens 48] [--runs 5] [--config zoo/moe/hidden.yml]
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs } from "node:util";
import type { LanguageModel } from "../src/core/language-model.js";
import { buildMoe } from "../src/fuse/moe/build.js";
import { createLlamaCppModel } from "../src/models/llamacpp/model.js";

const { values } = parseArgs({
  options: {
    tokens: { type: "string", default: "48" },
    runs: { type: "string", default: "5" },
    config: { type: "string", default: "zoo/moe/hidden.yml" },
    dense: { type: "string", default: "zoo/a/experts/law/model.gguf" },
  },
});
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const work = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-moe-gen-"));
const opened: LanguageModel[] = [];
try {
  const out = path.join(work, "moe");
  const report = await buildMoe({ config: await fs.readFile(values.config!, "utf8"), configName: values.config, outDir: out, outFormat: "gguf" });
  const moe = await createLlamaCppModel({ id: "moe", path: path.join(out, "model.gguf"), threads: 1 });
  const dense = await createLlamaCppModel({ id: "dense", path: values.dense!, threads: 1 });
  opened.push(moe, dense);
  const speed = async (model: LanguageModel, seed: number): Promise<number> => {
    const started = performance.now();
    let tokens = 0;
    for await (const chunk of model.generate("The court", { maxTokens: Number(values.tokens), temperature: 1, seed })) {
      if (chunk.type === "finish") tokens = chunk.tokens ?? 0;
    }
    return tokens / ((performance.now() - started) / 1000);
  };
  await speed(moe, 0);
  await speed(dense, 0);
  const rates: Record<string, number[]> = { moe: [], dense: [] };
  for (let r = 1; r <= Number(values.runs); r++) {
    rates.moe.push(await speed(moe, r));
    rates.dense.push(await speed(dense, r));
  }
  const m = median(rates.moe);
  const d = median(rates.dense);
  console.log(`${report.experts} experts, top-${report.expertsPerToken}, llama.cpp 1 thread, ${values.tokens} tokens, median of ${values.runs}`);
  console.log(`MoE   ${m.toFixed(0)} tokens/s`);
  console.log(`dense ${d.toFixed(0)} tokens/s (${values.dense})`);
  console.log(`MoE / dense ${(m / d).toFixed(2)}× (goal ≥ 0.5×)`);
} finally {
  for (const m of opened) await m.close();
  await fs.rm(work, { recursive: true, force: true });
}
