import { describe, expect, it } from "vitest";
import { Rng } from "../../src/core/rng.js";
import type { LlamaConfig } from "../../src/formats/hf/config.js";
import { embedTokens, llamaLayer, llamaLayerBatch } from "../../src/models/llama-forward.js";
import { llamaTensorShapes, randomLlamaConfig } from "../../src/zoo/random-llama.js";

/** Random weights for every tensor of `config` (a Mixtral's FFN replaced by routers and experts). */
function randomWeights(config: LlamaConfig, seed: number): Map<string, Float32Array> {
  const rng = new Rng(seed);
  const fill = (n: number, norm: boolean) => Float32Array.from({ length: n }, () => (norm ? 1 : 0) + 0.3 * rng.normal());
  const out = new Map<string, Float32Array>();
  for (const { name, shape } of llamaTensorShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const mlp = /^model\.layers\.(\d+)\.mlp\.(gate|up|down)_proj\.weight$/.exec(name);
    if (mlp && config.moe) {
      const w = { gate: "w1", down: "w2", up: "w3" }[mlp[2]]!;
      for (let e = 0; e < config.moe.experts; e++) out.set(`model.layers.${mlp[1]}.block_sparse_moe.experts.${e}.${w}.weight`, fill(n, false));
      if (mlp[2] === "gate") out.set(`model.layers.${mlp[1]}.block_sparse_moe.gate.weight`, fill(config.moe.experts * config.hiddenSize, false));
    } else out.set(name, fill(n, name.endsWith("norm.weight")));
  }
  return out;
}

const sequences = (config: LlamaConfig, weights: Map<string, Float32Array>, lengths: number[]) => {
  const rng = new Rng(99);
  return lengths.map((n) => embedTokens(config, weights.get("model.embed_tokens.weight")!, Array.from({ length: n }, () => rng.below(config.vocabSize))));
};
const copy = (seqs: Float64Array[][]) => seqs.map((s) => s.map((x) => x.slice()));
/** Bit-for-bit equality (Object.is also tells 0 from -0). */
const identical = (a: Float64Array[][], b: Float64Array[][]) => a.every((s, i) => s.every((x, p) => x.every((v, j) => Object.is(v, b[i][p][j]))));

const CONFIGS: [string, LlamaConfig][] = [
  ["llama with grouped-query attention", randomLlamaConfig({ hiddenSize: 24, intermediateSize: 40, numLayers: 1, numHeads: 4, numKvHeads: 2, vocabSize: 50 })],
  ["qwen2 with attention biases", randomLlamaConfig({ architecture: "Qwen2ForCausalLM", hiddenSize: 16, intermediateSize: 24, numLayers: 1, numHeads: 2, vocabSize: 50 })],
  ["a Mixtral of 3 experts, top-2", { ...randomLlamaConfig({ hiddenSize: 16, intermediateSize: 24, numLayers: 1, numHeads: 2, vocabSize: 50 }), architecture: "MixtralForCausalLM", moe: { experts: 3, expertsPerToken: 2 } }],
];

describe("llamaLayerBatch", () => {
  for (const [label, config] of CONFIGS) {
    it(`gives each sequence exactly what llamaLayer gives it alone (${label})`, () => {
      const weights = randomWeights(config, 5);
      const lookup = (name: string) => weights.get(name)!;
      // Lengths 1…9: the batch of 35 positions takes the blocked (2 rows × 4 positions) products, a
      // sequence alone the remainder paths; a one-token sequence alone takes plain dot products only.
      const seqs = sequences(config, weights, [1, 5, 9, 2, 7, 1, 3, 4, 1, 2]);
      const alone = copy(seqs);
      for (const s of alone) llamaLayer(config, 0, lookup, s);
      const batched = copy(seqs);
      const routed: string[] = [];
      llamaLayerBatch(config, 0, lookup, batched, { onRouting: (_layer, pos, experts, _w, seq) => routed.push(`${seq}:${pos}:${experts.join("+")}`) });
      expect(identical(batched, alone)).toBe(true);
      expect(identical(batched, seqs)).toBe(false);
      if (config.moe) {
        expect(routed).toHaveLength(35);
        expect(routed.slice(0, 3).map((r) => r.split(":").slice(0, 2).join(":"))).toEqual(["0:0", "1:0", "1:1"]);
        expect(new Set(routed.map((r) => r.split(":")[2])).size).toBeGreaterThan(1);
      }
    });
  }

  it("keeps attention within each sequence: a token's result does not depend on the sequences batched with it", () => {
    const [, config] = CONFIGS[0];
    const weights = randomWeights(config, 6);
    const lookup = (name: string) => weights.get(name)!;
    const [a, b] = sequences(config, weights, [6, 6]);
    const together = copy([a, b]);
    llamaLayerBatch(config, 0, lookup, together);
    const other = copy([a, a.map((x) => x.map((v) => -v))]);
    llamaLayerBatch(config, 0, lookup, other);
    expect(identical([together[0]], [other[0]])).toBe(true);
  });
});
