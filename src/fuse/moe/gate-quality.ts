import { ConfigError } from "../../core/errors.js";
import { initTrainingBackend, tf } from "../../zoo/train/backend.js";
import { forwardLogits, type RouteRecord, type TrainModel } from "../../zoo/train/model.js";
import type { BpeTokenizer } from "../../zoo/train/tokenize.js";

/**
 * How well a mixture's gates recognise domains: on held-out passages of each domain, the share of
 * tokens whose top-1 expert (largest gate logit) is that domain's own expert, per MoE layer and
 * averaged over layers. Uniform guessing scores 1/E.
 */
export interface GateQualityOptions {
  /** The domain each expert was trained on, in expert order (null for an expert of no domain). */
  expertDomains: readonly (string | null)[];
  /** Tokens per window (passages are cut into windows of this many tokens; default 64). */
  seqLen?: number;
}

export interface DomainGateQuality {
  /** Routed tokens (per layer). */
  tokens: number;
  /** Share routed top-1 to the domain's own expert, averaged over layers. */
  share: number;
  perLayer: number[];
  /** Share of tokens whose top-1 is each expert, averaged over layers. */
  experts: number[];
}

export interface GateQuality {
  domains: Record<string, DomainGateQuality>;
  /** Mean of the domains' shares. */
  macroShare: number;
  /** 1 / E: what routing at random scores. */
  chance: number;
}

export async function gateQuality(
  model: TrainModel,
  tokenizer: BpeTokenizer,
  passages: readonly { domain: string; text: string }[],
  options: GateQualityOptions,
): Promise<GateQuality> {
  await initTrainingBackend();
  const moe = model.moe;
  const seqLen = options.seqLen ?? 64;
  const problems: string[] = [];
  if (!moe) problems.push("the model is not a mixture of experts");
  else if (options.expertDomains.length !== moe.experts) problems.push(`expertDomains names ${options.expertDomains.length} experts; the model has ${moe.experts}`);
  if (!(Number.isSafeInteger(seqLen) && seqLen > 0)) problems.push(`seqLen must be a positive integer (got ${seqLen})`);
  const orphans = [...new Set(passages.map((p) => p.domain))].filter((d) => !options.expertDomains.includes(d));
  if (orphans.length) problems.push(`no expert is named for domain(s) ${orphans.join(", ")}`);
  if (problems.length) throw new ConfigError(problems, "gateQuality");
  const experts = moe!.experts;
  const layers = model.config.numLayers;

  const counts = new Map<string, { tokens: number; top: Float64Array[] }>();
  for (const { domain, text } of passages) {
    const ids = tokenizer.encode(text);
    let entry = counts.get(domain);
    if (!entry) counts.set(domain, (entry = { tokens: 0, top: Array.from({ length: layers }, () => new Float64Array(experts)) }));
    for (let start = 0; start < ids.length; start += seqLen) {
      const window = ids.slice(start, start + seqLen);
      const tops = tf.tidy(() => {
        const routes: RouteRecord[] = [];
        forwardLogits(model, tf.tensor2d([window], [1, window.length], "int32"), routes);
        return routes.map((r) => tf.argMax(r.logits, 1).dataSync() as Int32Array);
      });
      tops.forEach((top, layer) => { for (const e of top) entry!.top[layer][e]++; });
      entry.tokens += window.length;
    }
  }
  const domains: Record<string, DomainGateQuality> = {};
  for (const [domain, { tokens, top }] of counts) {
    const own = options.expertDomains.indexOf(domain);
    const perLayer = top.map((row) => row[own] / Math.max(tokens, 1));
    domains[domain] = {
      tokens,
      share: mean(perLayer),
      perLayer,
      experts: Array.from({ length: experts }, (_, e) => mean(top.map((row) => row[e] / Math.max(tokens, 1)))),
    };
  }
  return { domains, macroShare: mean(Object.values(domains).map((d) => d.share)), chance: 1 / experts };
}

function mean(xs: readonly number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN;
}
