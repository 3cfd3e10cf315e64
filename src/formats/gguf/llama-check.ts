/**
 * What llama.cpp needs from a GGUF file before it will load it. Some gaps make llama.cpp abort the
 * whole process (a failed GGML_ASSERT cannot be caught from node-llama-cpp), so files cogen writes
 * or is about to load are checked here first. Checked for the `llama` and `qwen2` architectures:
 * hyperparameter keys, the tokenizer arrays and special token ids, expert counts, and every required
 * tensor's presence and row-major shape (a mixture of experts' router and stacked experts
 * included); for any architecture, that tensor data is laid out the way ggml insists (each offset
 * the padded end of the previous tensor) and names fit ggml's 63 bytes.
 */
import { InputFileError } from "../../core/errors.js";
import { alignUp } from "./constants.js";
import type { GgufTensorInfo } from "./header.js";
import type { GgufFile } from "./reader.js";
import type { GgufMetadata, GgufValue } from "./values.js";

/** Architectures whose hyperparameters and tensors are checked in full. */
export const LLAMA_CPP_CHECKED_ARCHITECTURES: readonly string[] = ["llama", "qwen2"];
/** ggml keeps tensor names in 64-byte buffers including the terminating zero. */
const GGML_MAX_NAME_BYTES = 63;
const SPECIAL_TOKEN_KEYS = ["bos", "eos", "unknown", "padding"].map((k) => `tokenizer.ggml.${k}_token_id`);
const INTEGER_TYPES = new Set(["u8", "i8", "u16", "i16", "u32", "i32", "u64", "i64"]);

type FileLike = Pick<GgufFile, "metadata" | "list" | "alignment">;

function integer(v: GgufValue | undefined): number | undefined {
  if (!v || !INTEGER_TYPES.has(v.type) || v.type === "array") return undefined;
  return Number(v.value);
}

/** A per-layer hyperparameter: one integer, or an array with one per block. */
function perLayer(meta: GgufMetadata, key: string, blocks: number, problems: string[], required: boolean): number[] | undefined {
  const v = meta.get(key);
  if (v === undefined) {
    if (required) problems.push(`missing metadata key '${key}'`);
    return undefined;
  }
  let values: number[];
  if (v.type === "array") {
    if (!INTEGER_TYPES.has(v.itemType)) {
      problems.push(`'${key}' must be an integer or an array of integers, found array<${v.itemType}>`);
      return undefined;
    }
    values = (v.value as (number | bigint)[]).map(Number);
    if (values.length !== blocks) {
      problems.push(`'${key}' has ${values.length} entries but block_count is ${blocks}`);
      return undefined;
    }
  } else {
    const n = integer(v);
    if (n === undefined) {
      problems.push(`'${key}' must be an integer, found ${v.type}`);
      return undefined;
    }
    values = new Array(blocks).fill(n);
  }
  if (values.some((n) => n <= 0)) {
    problems.push(`'${key}' must be positive, found ${values.find((n) => n <= 0)}`);
    return undefined;
  }
  return values;
}

function positive(meta: GgufMetadata, key: string, problems: string[], required = true): number | undefined {
  const v = meta.get(key);
  if (v === undefined) {
    if (required) problems.push(`missing metadata key '${key}'`);
    return undefined;
  }
  const n = integer(v);
  if (n === undefined) problems.push(`'${key}' must be an integer, found ${v.type}`);
  else if (n <= 0) problems.push(`'${key}' must be positive, found ${n}`);
  else return n;
  return undefined;
}

function checkTokenizer(meta: GgufMetadata, problems: string[]): number | undefined {
  const model = meta.get("tokenizer.ggml.model");
  if (model === undefined) problems.push("missing metadata key 'tokenizer.ggml.model'");
  else if (model.type !== "string" || (model.value !== "llama" && model.value !== "gpt2")) {
    problems.push(`'tokenizer.ggml.model' must be "llama" or "gpt2", found ${model.type === "string" ? JSON.stringify(model.value) : model.type}`);
  }
  const tokens = meta.get("tokenizer.ggml.tokens");
  if (tokens === undefined) {
    problems.push("missing metadata key 'tokenizer.ggml.tokens'");
    return undefined;
  }
  if (tokens.type !== "array" || tokens.itemType !== "string") {
    problems.push(`'tokenizer.ggml.tokens' must be an array of strings, found ${tokens.type === "array" ? `array<${tokens.itemType}>` : tokens.type}`);
    return undefined;
  }
  const nVocab = tokens.value.length;
  if (nVocab === 0) problems.push("'tokenizer.ggml.tokens' is empty");
  // llama.cpp looks up the newline token at load time and aborts when it is missing.
  const vocab = new Set(tokens.value);
  // Its byte fallback looks up '<0xNN>' (then the raw byte) and aborts when neither exists.
  if (model?.type === "string" && model.value === "llama") {
    const missing = [];
    for (let b = 0; b < 256; b++) {
      const hex = `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
      if (!vocab.has(hex) && !(b < 128 && vocab.has(String.fromCharCode(b)))) missing.push(hex);
    }
    if (missing.length > 0) {
      problems.push(`the llama tokenizer lacks byte-fallback tokens ${missing.slice(0, 4).join(", ")}${missing.length > 4 ? ` and ${missing.length - 4} more` : ""}; llama.cpp aborts on text that needs them`);
    }
  }
  if (model?.type === "string" && model.value === "gpt2" && !vocab.has("\u010a")) {
    problems.push("the gpt2 tokenizer needs the byte-level newline token 'Ċ' in 'tokenizer.ggml.tokens'");
  }
  for (const [key, itemType] of [["tokenizer.ggml.scores", "f32"], ["tokenizer.ggml.token_type", "i32"]] as const) {
    const v = meta.get(key);
    if (v === undefined) continue;
    if (v.type !== "array" || v.itemType !== itemType) problems.push(`'${key}' must be an array of ${itemType}`);
    else if (v.value.length !== nVocab) problems.push(`'${key}' has ${v.value.length} entries but there are ${nVocab} tokens`);
  }
  if (model?.type === "string" && model.value === "gpt2") {
    const merges = meta.get("tokenizer.ggml.merges");
    if (merges === undefined) problems.push("missing metadata key 'tokenizer.ggml.merges' (required by the gpt2 tokenizer)");
    else if (merges.type !== "array" || merges.itemType !== "string") problems.push("'tokenizer.ggml.merges' must be an array of strings");
  }
  for (const key of SPECIAL_TOKEN_KEYS) {
    const v = meta.get(key);
    if (v === undefined) continue;
    const id = integer(v);
    if (id === undefined) problems.push(`'${key}' must be an integer, found ${v.type}`);
    else if (id < 0 || id >= nVocab) problems.push(`'${key}' is ${id}, outside the vocabulary of ${nVocab} tokens`);
  }
  return nVocab;
}

function checkLayout(file: FileLike, tensors: GgufTensorInfo[], problems: string[]): void {
  let expected = 0;
  for (const t of tensors) {
    if (new TextEncoder().encode(t.name).length > GGML_MAX_NAME_BYTES) {
      problems.push(`tensor name '${t.name}' is longer than ggml's ${GGML_MAX_NAME_BYTES} bytes`);
    }
    if (t.offset !== expected) {
      problems.push(`tensor '${t.name}' has data offset ${t.offset}; ggml requires ${expected} (tensors stored in order, each padded to ${file.alignment})`);
      return;
    }
    expected = alignUp(t.offset + t.byteLength, file.alignment);
  }
}

/** Every reason llama.cpp would refuse (or crash on) this file; empty when none is known. */
export function checkLlamaCppRequirements(file: FileLike): string[] {
  const problems: string[] = [];
  const meta = file.metadata;
  const tensors = file.list();
  checkLayout(file, tensors, problems);
  const archValue = meta.get("general.architecture");
  if (archValue === undefined) {
    problems.push("missing metadata key 'general.architecture'");
    return problems;
  }
  if (archValue.type !== "string") {
    problems.push(`'general.architecture' must be a string, found ${archValue.type}`);
    return problems;
  }
  const arch = archValue.value;
  if (!LLAMA_CPP_CHECKED_ARCHITECTURES.includes(arch)) return problems;

  positive(meta, `${arch}.context_length`, problems);
  const nEmbd = positive(meta, `${arch}.embedding_length`, problems);
  const nLayer = positive(meta, `${arch}.block_count`, problems);
  if (!meta.has(`${arch}.attention.layer_norm_rms_epsilon`)) {
    problems.push(`missing metadata key '${arch}.attention.layer_norm_rms_epsilon'`);
  }
  const nVocab = checkTokenizer(meta, problems);
  if (nLayer === undefined) {
    problems.push(`cannot check per-block keys and tensors without '${arch}.block_count'`);
    return problems;
  }
  const nFf = perLayer(meta, `${arch}.feed_forward_length`, nLayer, problems, true);
  const nHead = perLayer(meta, `${arch}.attention.head_count`, nLayer, problems, true);
  const nHeadKv = perLayer(meta, `${arch}.attention.head_count_kv`, nLayer, problems, false) ?? nHead;
  const keyLength = positive(meta, `${arch}.attention.key_length`, problems, false);
  const valueLength = positive(meta, `${arch}.attention.value_length`, problems, false);
  if (nHead && nHeadKv) {
    const bad = nHead.findIndex((h, i) => h % nHeadKv[i] !== 0);
    if (bad >= 0) problems.push(`head_count ${nHead[bad]} is not a multiple of head_count_kv ${nHeadKv[bad]} (block ${bad})`);
  }
  if (nHead && nEmbd !== undefined && keyLength === undefined && nEmbd % nHead[0] !== 0) {
    problems.push(`embedding_length ${nEmbd} is not a multiple of head_count ${nHead[0]}`);
  }

  const byName = new Map(tensors.map((t) => [t.name, t]));
  const expect = (name: string, shape: (number | undefined)[], required = true): void => {
    const t = byName.get(name);
    if (!t) {
      if (required) problems.push(`missing tensor '${name}'`);
      return;
    }
    if (shape.some((d) => d === undefined)) return; // a dimension depends on a key already reported
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      problems.push(`tensor '${name}' has shape [${t.shape.join(", ")}], expected [${shape.join(", ")}]`);
    }
  };
  expect("token_embd.weight", [nVocab, nEmbd]);
  expect("output_norm.weight", [nEmbd]);
  expect("output.weight", [nVocab, nEmbd], false);
  const experts = checkExpertKeys(meta, arch, problems);
  for (let i = 0; i < nLayer; i++) {
    const h = nHead?.[i];
    const hkv = nHeadKv?.[i];
    const dk = keyLength ?? (nEmbd !== undefined && h && nEmbd % h === 0 ? nEmbd / h : undefined);
    const dv = valueLength ?? dk;
    const qOut = h !== undefined && dk !== undefined ? h * dk : undefined;
    const kOut = hkv !== undefined && dk !== undefined ? hkv * dk : undefined;
    const vOut = hkv !== undefined && dv !== undefined ? hkv * dv : undefined;
    const oIn = h !== undefined && dv !== undefined ? h * dv : undefined;
    const p = `blk.${i}.`;
    expect(`${p}attn_norm.weight`, [nEmbd]);
    expect(`${p}attn_q.weight`, [qOut, nEmbd]);
    expect(`${p}attn_k.weight`, [kOut, nEmbd]);
    expect(`${p}attn_v.weight`, [vOut, nEmbd]);
    expect(`${p}attn_output.weight`, [nEmbd, oIn]);
    const biasRequired = arch === "qwen2";
    expect(`${p}attn_q.bias`, [qOut], biasRequired);
    expect(`${p}attn_k.bias`, [kOut], biasRequired);
    expect(`${p}attn_v.bias`, [vOut], biasRequired);
    expect(`${p}ffn_norm.weight`, [nEmbd]);
    const ff = nFf?.[i];
    if (experts > 0) {
      // Mixture of experts (Mixtral in llama.cpp's `llama` architecture): a router and the experts stacked per part.
      expect(`${p}ffn_gate_inp.weight`, [experts, nEmbd]);
      expect(`${p}ffn_gate_exps.weight`, [experts, ff, nEmbd]);
      expect(`${p}ffn_up_exps.weight`, [experts, ff, nEmbd]);
      expect(`${p}ffn_down_exps.weight`, [experts, nEmbd, ff]);
      continue;
    }
    expect(`${p}ffn_gate.weight`, [ff, nEmbd]);
    expect(`${p}ffn_up.weight`, [ff, nEmbd]);
    expect(`${p}ffn_down.weight`, [nEmbd, ff]);
  }
  for (const t of tensors) {
    const block = /^blk\.(\d+)\./.exec(t.name);
    if (block && Number(block[1]) >= nLayer) {
      problems.push(`tensor '${t.name}' belongs to block ${block[1]} but block_count is ${nLayer}`);
    }
  }
  return problems;
}

/** llama.cpp's largest expert count (LLAMA_MAX_EXPERTS in the versions cogen ships with or later). */
export const LLAMA_CPP_MAX_EXPERTS = 256;

/**
 * llama.cpp asserts (aborting the process) that expert_count ≤ its maximum, that
 * expert_used_count ≤ expert_count, and that a model with experts uses at least one per token.
 */
function checkExpertKeys(meta: GgufMetadata, arch: string, problems: string[]): number {
  const countKey = `${arch}.expert_count`;
  const usedKey = `${arch}.expert_used_count`;
  const read = (key: string): number => {
    const v = meta.get(key);
    if (v === undefined) return 0;
    const n = integer(v);
    if (n === undefined || n < 0) {
      problems.push(`'${key}' must be a non-negative integer, found ${v.type === "array" ? "an array" : JSON.stringify(String(v.value))}`);
      return 0;
    }
    return n;
  };
  const experts = read(countKey);
  const used = read(usedKey);
  if (experts > LLAMA_CPP_MAX_EXPERTS) problems.push(`'${countKey}' is ${experts}; llama.cpp allows at most ${LLAMA_CPP_MAX_EXPERTS} experts`);
  if (experts > 0 && used === 0) problems.push(`'${usedKey}' must be at least 1 when '${countKey}' is ${experts}`);
  if (used > experts) problems.push(`'${usedKey}' (${used}) is larger than '${countKey}' (${experts})`);
  return experts > LLAMA_CPP_MAX_EXPERTS ? 0 : experts;
}

/** Throw an InputFileError listing every problem when llama.cpp could not load `file`. */
export function assertLoadableByLlamaCpp(file: FileLike & { path: string }): void {
  const problems = checkLlamaCppRequirements(file);
  if (problems.length > 0) {
    throw new InputFileError(file.path, `llama.cpp cannot load this file:\n  - ${problems.join("\n  - ")}`);
  }
}
