/**
 * A target job: one source over one shard's texts. Its id and the shard's identity are derived
 * from its content (source, model file hashes, K, the texts), so resubmitting the same work names
 * the same job and a shard on disk that carries the identity is never recomputed.
 */
import { createHash } from "node:crypto";
import { BackendError, CogenError } from "../../core/errors.js";
import type { LanguageModel } from "../../core/language-model.js";
import { utf8Length } from "../../core/language-model.js";
import type { ExpertSpec } from "../../formats/models-file.js";
import type { TopKShard } from "../../formats/topk-shard.js";
import type { ModelPool } from "../../models/pool.js";
import type { CorpusText } from "./corpus.js";
import { ShardBuilder } from "./shard-builder.js";

export interface TargetJob {
  id: string;
  /** The source. */
  expert: ExpertSpec;
  /** sha256 over the source's definition and its model files. */
  sourceHash: string;
  k: number;
  /** Corpus index of the first text. */
  first: number;
  texts: CorpusText[];
  /** The shard's path relative to the output folder. */
  file: string;
}

export function shardIdentity(job: Pick<TargetJob, "expert" | "sourceHash" | "k" | "first" | "texts">): string {
  const content = { id: job.expert.id, source: job.sourceHash, k: job.k, first: job.first, texts: job.texts.map((t) => t.text) };
  const hash = createHash("sha256").update(JSON.stringify(content));
  return hash.digest("hex");
}

export function targetJobId(job: Pick<TargetJob, "expert" | "sourceHash" | "k" | "first" | "texts">): string {
  return `targets-${shardIdentity(job).slice(0, 40)}`;
}

/** What a source can score: its context, when known (a longer text is a counted skip). */
function contextLimit(model: LanguageModel, spec: ExpertSpec): number | undefined {
  const own = (model as { contextSize?: unknown }).contextSize;
  return typeof own === "number" ? own : spec.contextSize;
}

export function requireSequenceTopK(model: LanguageModel): asserts model is LanguageModel & Required<Pick<LanguageModel, "sequenceTopK">> {
  if (!model.sequenceTopK) {
    throw new BackendError(model.id, "cannot return a whole-sequence top-K (it has no sequenceTopK: composites such as routers and ensembles decline it); use its member models as sources");
  }
}

/** Score one shard's texts with one source. Any failure fails the whole job (no partial shard). */
export async function executeTargetJob(job: TargetJob, pool: ModelPool, onText?: () => void): Promise<TopKShard> {
  try {
    return await pool.use(job.expert, async (model) => {
      requireSequenceTopK(model);
      const limit = contextLimit(model, job.expert);
      const builder = new ShardBuilder({ source: job.expert.id, k: job.k, first: job.first, identity: shardIdentity(job) });
      for (const [i, item] of job.texts.entries()) {
        const bytes = utf8Length(item.text);
        if (item.skip) {
          builder.skip(bytes, item.skip);
        } else if (limit !== undefined && (await model.tokenize(item.text)).length > limit) {
          builder.skip(bytes, "too-long");
        } else {
          try {
            builder.add(await model.sequenceTopK(item.text, job.k), bytes);
          } catch (error) {
            const message = error instanceof Error ? error.message : String(error);
            throw new BackendError(job.expert.id, `text ${job.first + i} (line ${item.line}): ${message}`);
          }
        }
        onText?.();
      }
      return builder.build();
    });
  } catch (error) {
    if (CogenError.isInstance(error) || !(error instanceof Error)) throw error;
    throw new BackendError(job.expert.id, error.message);
  }
}
