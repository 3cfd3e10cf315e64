/**
 * The base model's residual stream entering each layer, for every prompt (the `hidden` gate
 * modes). Layers run one at a time over all prompts together, so one layer of the base is held
 * (read while the one before is computed). With several threads the prompts are split between
 * worker threads that share each layer's weights: a prompt's values are bit for bit the same
 * whichever thread and batch computes them (llamaLayerBatch).
 */
import type { Worker } from "node:worker_threads";
import { startModuleWorker } from "../../core/module-worker.js";
import { elementCount, type TensorSource } from "../../core/tensor.js";
import type { LlamaConfig } from "../../formats/hf/config.js";
import { embedTokens, llamaLayerBatch } from "../../models/llama-forward.js";

/** Each sequence's stream at its last token, or averaged over its tokens. */
export function pickStates(xs: Float64Array[][], average: boolean): Float64Array[] {
  return xs.map((positions) => {
    if (!average) return Float64Array.from(positions[positions.length - 1]);
    const m = new Float64Array(positions[0].length);
    for (const x of positions) for (let i = 0; i < m.length; i++) m[i] += x[i] / positions.length;
    return m;
  });
}

/** Holds some sequences' streams; applies a layer and answers their picks entering the next one. */
interface LayerRunner {
  start(): Promise<Float64Array[]>;
  layer(index: number, weights: Map<string, Float32Array>): Promise<Float64Array[]>;
  close(): Promise<void>;
}

function inlineRunner(config: LlamaConfig, xs: Float64Array[][], average: boolean): LayerRunner {
  return {
    start: async () => pickStates(xs, average),
    layer: async (index, weights) => {
      llamaLayerBatch(config, index, (name) => {
        const w = weights.get(name);
        if (!w) throw new Error(`missing tensor ${name}`);
        return w;
      }, xs);
      return pickStates(xs, average);
    },
    close: async () => undefined,
  };
}

function workerRunner(config: LlamaConfig, xs: Float64Array[][], average: boolean, path: string): LayerRunner {
  const worker: Worker = startModuleWorker(import.meta.url, "./hidden-states-worker");
  let waiting: { resolve: (picks: Float64Array[]) => void; reject: (e: Error) => void } | undefined;
  const fail = (e: Error) => {
    waiting?.reject(e);
    waiting = undefined;
  };
  worker.on("message", (msg: { picks?: Float64Array[]; error?: string }) => {
    const w = waiting;
    waiting = undefined;
    if (msg.picks) w?.resolve(msg.picks);
    else w?.reject(new Error(`${path}: ${msg.error}`));
  });
  worker.on("error", fail);
  worker.on("exit", (code) => fail(new Error(`hidden-state worker exited (code ${code}) before answering`)));
  const ask = (message: unknown) => new Promise<Float64Array[]>((resolve, reject) => {
    waiting = { resolve, reject };
    worker.postMessage(message);
  });
  return {
    start: () => ask({ kind: "start", config, xs, average }),
    layer: (index, weights) => ask({ kind: "layer", index, weights: Object.fromEntries(weights) }),
    close: async () => {
      await worker.terminate();
    },
  };
}

/** Contiguous groups of sequences with about the same number of tokens each (at most `count`). */
function splitByTokens(sequences: number[][], count: number): number[][][] {
  const total = sequences.reduce((s, t) => s + t.length, 0);
  const groups: number[][][] = [[]];
  let sum = 0;
  for (const seq of sequences) {
    if (groups[groups.length - 1].length > 0 && groups.length < count && sum >= (total * groups.length) / count) groups.push([]);
    groups[groups.length - 1].push(seq);
    sum += seq.length;
  }
  return groups;
}

/**
 * states[layer][sequence]: the residual stream entering each layer, at the last token or averaged
 * over tokens. `threads` > 1 splits the sequences over that many worker threads.
 */
export async function promptHiddenStates(
  config: LlamaConfig,
  base: TensorSource,
  embed: Float32Array,
  sequences: number[][],
  average: boolean,
  threads = 1,
): Promise<Float64Array[][]> {
  const groups = splitByTokens(sequences, Math.max(1, Math.min(threads, sequences.length)));
  const parallel = groups.length > 1;
  const runners = groups.map((g) => {
    const xs = g.map((tokens) => embedTokens(config, embed, tokens));
    return parallel ? workerRunner(config, xs, average, base.path) : inlineRunner(config, xs, average);
  });
  // Workers share two slots of memory, used for alternate layers (one computed while the next is
  // read): a slot is refilled only after every worker has finished the layer it held. New shared
  // buffers per layer would pile up, since a worker that allocates little rarely collects them.
  const layerTensors = (layer: number) => base.list().filter((t) => t.name.startsWith(`model.layers.${layer}.`));
  const slotBytes = parallel ? Math.max(...Array.from({ length: config.numLayers }, (_, l) => layerTensors(l).reduce((s, t) => s + 4 * elementCount(t.shape), 0))) : 0;
  const slots = parallel ? [new SharedArrayBuffer(slotBytes), new SharedArrayBuffer(slotBytes)] : [];
  const readLayer = async (layer: number): Promise<Map<string, Float32Array>> => {
    const weights = new Map<string, Float32Array>();
    let offset = 0;
    for (const t of layerTensors(layer)) {
      const data = await base.readF32(t.name);
      if (!parallel) weights.set(t.name, data);
      else {
        const shared = new Float32Array(slots[layer % 2], offset, data.length);
        shared.set(data);
        weights.set(t.name, shared);
        offset += data.byteLength;
      }
    }
    return weights;
  };
  try {
    const last = config.numLayers - 1; // the last layer's output is not a gate input
    let next = last > 0 ? readLayer(0) : undefined;
    next?.catch(() => undefined);
    let picks = await Promise.all(runners.map((r) => r.start()));
    const states: Float64Array[][] = [];
    for (let layer = 0; layer <= last; layer++) {
      states.push(picks.flat());
      if (layer === last) break;
      const weights = await next!;
      next = layer + 1 < last ? readLayer(layer + 1) : undefined;
      next?.catch(() => undefined);
      picks = await Promise.all(runners.map((r) => r.layer(layer, weights)));
    }
    return states;
  } finally {
    await Promise.all(runners.map((r) => r.close()));
  }
}
