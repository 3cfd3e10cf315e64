/**
 * Top-K target shards (`.cgtk`): one source's whole-sequence top-K over a run of corpus texts,
 * in the source's own tokenisation, written by `cogen distill targets`.
 *
 * Layout (little-endian; every array starts at a multiple of 4 bytes):
 *
 *   "CGTK"  u32 version (1)  u32 header length H  header: H bytes of UTF-8 JSON, space-padded
 *   end        u32[P]      byte end of each token's span (its start is the previous end, 0 at a text's start)
 *   token      idx[P]      the token's string, an index into header.strings
 *   logprob    f32[P]      its log-probability (NaN: the backend gave none)
 *   topToken   idx[P·K]    the K candidates of each position, most likely first (all ones: empty slot)
 *   topLogprob f32[P·K]
 *
 * P is the sum of the texts' positions; idx is u16 when the shard interns fewer than 65 535
 * strings, else u32. Per position and source that is 10 + 6·K bytes (u16) or 12 + 8·K (u32), plus
 * the shard's string table, shared by all its positions.
 */
import { InputFileError } from "../core/errors.js";

export const TOPK_SHARD_MAGIC = "CGTK";
export const TOPK_SHARD_VERSION = 1;
/** An empty candidate slot (fewer than K candidates). */
export const EMPTY_SLOT = 0xffffffff;
const U16_EMPTY = 0xffff;

export type SkipReason = "empty" | "binary" | "too-long";

export interface ShardText {
  /** Tokens scored (0 when skipped). */
  positions: number;
  /** Sum of the tokens' negative log-probabilities (nats), those without one left out. */
  nats: number;
  /** UTF-8 bytes of the text. */
  bytes: number;
  skip?: SkipReason;
}

export interface TopKShard {
  /** The source's id. */
  source: string;
  k: number;
  /** Corpus index of the shard's first text. */
  first: number;
  /** What the shard was computed from (source, texts, K); a resumed run recomputes a shard only when it differs. */
  identity: string;
  texts: ShardText[];
  strings: string[];
  end: Uint32Array;
  token: Uint32Array;
  logprob: Float32Array;
  topToken: Uint32Array;
  topLogprob: Float32Array;
}

const encoder = new TextEncoder();
const align4 = (n: number) => (n + 3) & ~3;

export function encodeTopKShard(shard: TopKShard): Uint8Array {
  const positions = shard.end.length;
  const wide = shard.strings.length >= U16_EMPTY;
  const idx = wide ? 4 : 2;
  const header = { source: shard.source, k: shard.k, first: shard.first, identity: shard.identity, texts: shard.texts, strings: shard.strings, indexBytes: idx };
  const json = encoder.encode(JSON.stringify(header));
  const headerLength = align4(json.length);
  const sizes = [4 * positions, idx * positions, 4 * positions, idx * positions * shard.k, 4 * positions * shard.k];
  const total = 12 + headerLength + sizes.reduce((s, n) => s + align4(n), 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(encoder.encode(TOPK_SHARD_MAGIC), 0);
  view.setUint32(4, TOPK_SHARD_VERSION, true);
  view.setUint32(8, headerLength, true);
  out.set(json, 12);
  out.fill(0x20, 12 + json.length, 12 + headerLength);
  let at = 12 + headerLength;
  const putU32 = (values: Uint32Array) => {
    for (let i = 0; i < values.length; i++) view.setUint32(at + 4 * i, values[i], true);
    at += align4(4 * values.length);
  };
  const putIdx = (values: Uint32Array) => {
    if (wide) return putU32(values);
    for (let i = 0; i < values.length; i++) view.setUint16(at + 2 * i, values[i] === EMPTY_SLOT ? U16_EMPTY : values[i], true);
    at += align4(2 * values.length);
  };
  const putF32 = (values: Float32Array) => {
    for (let i = 0; i < values.length; i++) view.setFloat32(at + 4 * i, values[i], true);
    at += align4(4 * values.length);
  };
  putU32(shard.end);
  putIdx(shard.token);
  putF32(shard.logprob);
  putIdx(shard.topToken);
  putF32(shard.topLogprob);
  return out;
}

export function decodeTopKShard(bytes: Uint8Array, file: string): TopKShard {
  const fail = (message: string): never => {
    throw new InputFileError(file, `not a valid top-K shard: ${message}`);
  };
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 4)) !== TOPK_SHARD_MAGIC) fail(`it does not start with "${TOPK_SHARD_MAGIC}"`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(4, true);
  if (version !== TOPK_SHARD_VERSION) fail(`version ${version} (this cogen reads ${TOPK_SHARD_VERSION})`);
  const headerLength = view.getUint32(8, true);
  if (12 + headerLength > bytes.length) fail(`header of ${headerLength} bytes runs past the end of the file (${bytes.length})`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(12, 12 + headerLength))) as Record<string, unknown>;
  } catch (error) {
    return fail(`header is not JSON (${(error as Error).message})`);
  }
  const { source, k, first, identity, texts, strings, indexBytes } = header as Record<string, unknown>;
  if (typeof source !== "string" || typeof identity !== "string") fail("header lacks source or identity");
  if (!Number.isInteger(k) || (k as number) < 1) fail(`k must be a positive integer, got ${JSON.stringify(k)}`);
  if (!Number.isInteger(first) || (first as number) < 0) fail(`first must be a text index, got ${JSON.stringify(first)}`);
  if (!Array.isArray(strings) || !strings.every((s) => typeof s === "string")) fail("strings must be an array of strings");
  if (!Array.isArray(texts)) fail("texts must be an array");
  if (indexBytes !== 2 && indexBytes !== 4) fail(`indexBytes must be 2 or 4, got ${JSON.stringify(indexBytes)}`);
  const textList = texts as ShardText[];
  let positions = 0;
  for (const [i, t] of textList.entries()) {
    if (!Number.isInteger(t?.positions) || t.positions < 0 || typeof t.nats !== "number" || !Number.isInteger(t.bytes)) fail(`texts[${i}] needs integer positions and bytes and a number nats`);
    positions += t.positions;
  }
  const K = k as number;
  const idx = indexBytes as number;
  const sizes = [4 * positions, idx * positions, 4 * positions, idx * positions * K, 4 * positions * K];
  const expected = 12 + headerLength + sizes.reduce((s, n) => s + align4(n), 0);
  if (expected !== bytes.length) fail(`${positions} positions × K ${K} need ${expected} bytes, the file has ${bytes.length} (truncated?)`);
  let at = 12 + headerLength;
  const getU32 = (n: number) => {
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i++) out[i] = view.getUint32(at + 4 * i, true);
    at += align4(4 * n);
    return out;
  };
  const getIdx = (n: number) => {
    if (idx === 4) return getU32(n);
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      const v = view.getUint16(at + 2 * i, true);
      out[i] = v === U16_EMPTY ? EMPTY_SLOT : v;
    }
    at += align4(2 * n);
    return out;
  };
  const getF32 = (n: number) => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = view.getFloat32(at + 4 * i, true);
    at += align4(4 * n);
    return out;
  };
  const end = getU32(positions);
  const token = getIdx(positions);
  const logprob = getF32(positions);
  const topToken = getIdx(positions * K);
  const topLogprob = getF32(positions * K);
  const count = (strings as string[]).length;
  for (const array of [token, topToken]) {
    for (const v of array) if (v !== EMPTY_SLOT && v >= count) fail(`string index ${v} is outside the table of ${count}`);
  }
  return {
    source: source as string, k: K, first: first as number, identity: identity as string, texts: textList, strings: strings as string[],
    end, token, logprob, topToken, topLogprob,
  };
}

/** Where each text's positions start in a shard's arrays (one more entry than texts: the total). */
export function shardOffsets(shard: Pick<TopKShard, "texts">): number[] {
  const offsets = [0];
  for (const t of shard.texts) offsets.push(offsets[offsets.length - 1] + t.positions);
  return offsets;
}
