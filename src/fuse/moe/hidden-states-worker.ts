/**
 * Worker thread of promptHiddenStates (gates.ts): holds some of the prompts' residual streams and
 * applies each decoder layer posted to it (weights on shared memory), answering with the streams'
 * picks (last token or mean) entering the next layer.
 */
import { parentPort } from "node:worker_threads";
import type { LlamaConfig } from "../../formats/hf/config.js";
import { llamaLayerBatch } from "../../models/llama-forward.js";
import { pickStates } from "./hidden-states.js";

type Message =
  | { kind: "start"; config: LlamaConfig; xs: Float64Array[][]; average: boolean }
  | { kind: "layer"; index: number; weights: Record<string, Float32Array> };

let state: { config: LlamaConfig; xs: Float64Array[][]; average: boolean } | undefined;

parentPort?.on("message", (msg: Message) => {
  try {
    if (msg.kind === "start") state = { config: msg.config, xs: msg.xs, average: msg.average };
    else {
      const weights = msg.weights;
      llamaLayerBatch(state!.config, msg.index, (name) => {
        const w = weights[name];
        if (!w) throw new Error(`missing tensor ${name}`);
        return w;
      }, state!.xs);
    }
    parentPort!.postMessage({ picks: pickStates(state!.xs, state!.average) });
  } catch (e) {
    parentPort!.postMessage({ error: (e as Error).message });
  }
});
