/**
 * Tokenizer handling for `tokenizer_source` (mergekit's semantics): the output vocabulary is the
 * base's, one model's, or the union (the base's tokens keep their ids; tokens only other models
 * have are appended in model order). Each input's embedding rows are permuted into the output
 * vocabulary; a row a model lacks is filled from the base when it has the token, else from the
 * only model that has it, else the mean over the models that have it, else zero.
 */
import * as path from "node:path";
import { InputFileError } from "../core/errors.js";
import { readJsonObject } from "../core/json-file.js";

export type Vocab = Map<string, number>;

/** token → id from a tokenizer.json (model.vocab as a map or Unigram list, plus added_tokens). */
export function vocabFromTokenizerJson(json: unknown, file: string): Vocab {
  const vocab: Vocab = new Map();
  const root = json as { model?: { vocab?: unknown }; added_tokens?: unknown };
  const v = root?.model?.vocab;
  if (Array.isArray(v)) v.forEach((entry, i) => vocab.set(String(Array.isArray(entry) ? entry[0] : entry), i));
  else if (v && typeof v === "object") for (const [tok, id] of Object.entries(v)) vocab.set(tok, Number(id));
  else throw new InputFileError(file, "model.vocab is missing");
  if (Array.isArray(root.added_tokens)) {
    for (const a of root.added_tokens as { id?: unknown; content?: unknown }[]) {
      if (typeof a?.content === "string" && Number.isInteger(a.id)) vocab.set(a.content, a.id as number);
    }
  }
  return vocab;
}

export async function readTokenizerJson(dir: string): Promise<{ json: Record<string, unknown>; vocab: Vocab }> {
  const file = path.join(dir, "tokenizer.json");
  const json = await readJsonObject(file, "tokenizer_source needs each model's tokenizer.json");
  return { json, vocab: vocabFromTokenizerJson(json, file) };
}

/** Output vocabulary size: one more than the largest id. */
export function vocabSize(vocab: Vocab): number {
  let max = -1;
  for (const id of vocab.values()) max = Math.max(max, id);
  return max + 1;
}

/** The union: `first`'s tokens keep their ids; others' new tokens are appended in order. */
export function unionVocab(first: Vocab, others: Vocab[]): { vocab: Vocab; added: string[] } {
  const vocab: Vocab = new Map(first);
  const added: string[] = [];
  let next = vocabSize(first);
  for (const v of others) {
    const byId = [...v.entries()].sort((a, b) => a[1] - b[1]);
    for (const [tok] of byId) {
      if (vocab.has(tok)) continue;
      vocab.set(tok, next++);
      added.push(tok);
    }
  }
  return { vocab, added };
}

/** For each output id, the model's row for that token, or −1 (ids at or past `rows` count as absent). */
export function permutation(out: Vocab, model: Vocab, rows: number): Int32Array {
  const p = new Int32Array(vocabSize(out)).fill(-1);
  for (const [tok, id] of out) {
    const src = model.get(tok);
    if (src !== undefined && src < rows) p[id] = src;
  }
  return p;
}

/**
 * Permute every model's embedding matrix into the output vocabulary (see the module comment for
 * how missing rows are filled). `baseIndex` names the base among `embeds`, if any.
 */
export function permuteEmbeddings(embeds: Float32Array[], perms: Int32Array[], hidden: number, outRows: number, baseIndex?: number): Float32Array[] {
  const count = embeds.length;
  const out = embeds.map(() => new Float32Array(outRows * hidden));
  const fill = new Float32Array(hidden);
  for (let id = 0; id < outRows; id++) {
    const present: number[] = [];
    for (let m = 0; m < count; m++) if (id < perms[m].length && perms[m][id] >= 0) present.push(m);
    let defaultRow: Float32Array | undefined;
    if (present.length < count) {
      fill.fill(0);
      if (present.length === 1) copyRow(embeds[present[0]], perms[present[0]][id], hidden, fill);
      else if (baseIndex !== undefined && present.includes(baseIndex)) copyRow(embeds[baseIndex], perms[baseIndex][id], hidden, fill);
      else if (present.length > 1) {
        for (const m of present) {
          const off = perms[m][id] * hidden;
          for (let j = 0; j < hidden; j++) fill[j] += embeds[m][off + j];
        }
        for (let j = 0; j < hidden; j++) fill[j] /= present.length;
      }
      defaultRow = fill;
    }
    for (let m = 0; m < count; m++) {
      const dst = out[m].subarray(id * hidden, (id + 1) * hidden);
      const src = id < perms[m].length ? perms[m][id] : -1;
      if (src >= 0) dst.set(embeds[m].subarray(src * hidden, (src + 1) * hidden));
      else if (defaultRow) dst.set(defaultRow);
    }
  }
  return out;
}

function copyRow(src: Float32Array, row: number, hidden: number, dst: Float32Array): void {
  dst.set(src.subarray(row * hidden, (row + 1) * hidden));
}

/** tokenizer.json of the union: the base's file with the new tokens appended as added tokens. */
export function unionTokenizerJson(baseJson: Record<string, unknown>, vocab: Vocab, added: string[]): Record<string, unknown> {
  const copy = structuredClone(baseJson);
  const list = Array.isArray(copy.added_tokens) ? (copy.added_tokens as unknown[]) : [];
  for (const tok of added) {
    list.push({ id: vocab.get(tok), content: tok, single_word: false, lstrip: false, rstrip: false, normalized: true, special: false });
  }
  copy.added_tokens = list;
  return copy;
}
