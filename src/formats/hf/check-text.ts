import { createHash } from "node:crypto";
import { bytesToByteLevel } from "./byte-level.js";
import { flattenSequence } from "./pre-tokenizer.js";

/**
 * llama.cpp's converter (convert_hf_to_gguf.py) names a BPE pre-tokenizer by the SHA-256 of
 * `str(tokenizer.encode(CHECK_TEXT))`. cogen recognises pre-tokenizers by their structure and uses
 * the same hash as a cross-check: computing it needs the tokenizer.json's own tokenisation of the
 * check text, which this module reproduces for byte-level BPE tokenizers (added tokens, NFC,
 * the pre-tokenizer's splits, merges by rank, the post-processor's special tokens).
 */
export const CHECK_TEXT =
  "\n \n\n \n\n\n \t \t\t \t\n  \n   \n    \n     \n🚀 (normal) 😶\u200d🌫️ (multiple emojis concatenated) ✅ 🦙🦙 3 33 333 3333 33333 333333 3333333 33333333 3.3 3..3 3...3 កាន់តែពិសេសអាច😁 ?我想在apple工作1314151天～ ------======= нещо на Български ''''''```````\"\"\"\"......!!!!!!?????? I've been 'told he's there, 'RE you sure? 'M not sure I'll make it, 'D you like some tea? We'Ve a'lL";

/** convert_hf_to_gguf.py's hashes of the check text for the names cogen writes (a name may have several). */
export const CHECK_TEXT_HASHES: Readonly<Record<string, string>> = {
  "0ef9807a4087ebef797fc749390439009c3b9eda9ad1a097abbe738f486c01e5": "llama-bpe",
  "049ecf7629871e3041641907f3de7c733e4dbfdc736f57d882ba0b0845599754": "deepseek-llm",
  "347715f544604f9118bb75ed199f68779f423cabb20db6de6f31b908d04d7821": "deepseek-coder",
  "8aeee3860c56296a157a1fe2fad249ec40aa59b1bb5709f4ade11c4e6fe652ed": "falcon",
  "9d032fcbd5501f4a38150912590928bfb36091efb5df11b8e2124b0390e3fb1e": "falcon3",
  "b6dc8df998e1cfbdc4eac8243701a65afe638679230920b50d6f17d81c098166": "mpt",
  "35d91631860c815f952d711435f48d356ebac988362536bed955d43bfa436e34": "starcoder",
  "3ce83efda5659b07b1ad37ca97ca5797ea4285d9b9ab0dc679e4a720c9da7454": "gpt-2",
  "0fe1cf6eda062318a1af7270f3331a85c539a01778ff948e24388e949c5282f4": "gpt-2",
  "32d85c31273f8019248f2559fed492d929ea28b17e51d81d3bb36fff23ca72b3": "stablelm2",
  "6221ad2852e85ce96f791f476e0b390cf9b474c9e3d1362f53a24a06dc8220ff": "refact",
  "9c2227e4dd922002fb81bde4fc02b0483ca4f12911410dee2255e4987644e3f8": "command-r",
  "e636dc30a262dcc0d8c323492e32ae2b70728f4df7dfe9737d9f920a282b8aea": "qwen2",
  "d4540891389ea895b53b399da6ac824becc30f2fba0e9ddbb98f92e55ca0e97c": "qwen2",
  "a8594e3edff7c29c003940395316294b2c623e09894deebbc65f33f1515df79e": "dbrx",
  "c136ed14d01c2745d4f60a9596ae66800e2b61fa45643e72436041855ad4089d": "smaug-bpe",
  "b53802fb28e26d645c3a310b34bfe07da813026ec7c7716883404d5e0f8b1901": "jais",
  "7b3e7548e4308f52a76e8229e4e6cc831195d0d1df43aed21ac6c93da05fec5f": "codeshell",
  "63b97e4253352e6f357cc59ea5b583e3a680eaeaf2632188c2b952de2588485e": "tekken",
  "855059429035d75a914d1eda9f10a876752e281a054a7a3d421ef0533e5b6249": "smollm",
  "4e2b24cc4770243d65a2c9ec19770a72f08cffc161adbb73fcbb6b7dd45a0aae": "exaone",
  "fcace8b9cac38ce847670c970cd5892031a753a1ef381abd1d9af00f713da085": "phi-2",
  "d4c8f286ea6b520b3d495c4455483cfa2302c0cfcd4be05d781b6a8a0a7cdaf1": "megrez",
  "877081d19cf6996e2c4ff0e1236341e9b7bde288f5311a56a937f0afbbb3aeb5": "deepseek-v3",
  "b3f499bb4255f8ca19fccd664443283318f2fd2414d5e0b040fbdd0cc195d6c5": "deepseek-r1-qwen",
  "ccc2ef013c104be7bae2965776d611e1d7a8a2a9c547dd93a682c9a9fc80352e": "gpt-4o",
  "d353350c764d8c3b39c763113960e4fb4919bea5fbf208a0e3b22e8469dc7406": "llama4",
  "0e9433cbbb161f89e264eb32e8e64bfe69e834973ffca5d41d3948a604a3e2a3": "pixtral",
  "1431a23e583c97432bc230bff598d103ddb5a1f89960c8f1d1051aaa944d0b35": "minerva-7b",
  "7e57df22b1fe23a7b1e1c7f3dc4e3f96d43a4eb0836d0c6bdc3436d7b2f1c664": "hunyuan",
  "66b8d4e19ab16c3bfd89bce5d785fb7e0155e8648708a1f42077cb9fe002c273": "grok-2",
  "b6e8e1518dc4305be2fe39c313ed643381c4da5db34a98f6a04c093f8afbe99b": "chatglm-bpe",
  "81d72c7348a9f0ebe86f23298d37debe0a5e71149e29bd283904c02262b27516": "chatglm-bpe",
  "a1336059768a55c99a734006ffb02203cd450fed003e9a71886c88acf24fdbc2": "glm4",
};

/** JavaScript regexes for the split steps of src/formats/hf/pre-tokenizer.ts. */
function stepRegex(step: string): RegExp {
  if (step === "digits(individual)") return /\p{N}/gu;
  if (step === "digits(contiguous)") return /\p{N}+/gu;
  // Hugging Face's punctuation: ASCII punctuation or Unicode category P.
  if (step === "punctuation(contiguous)") return /[\p{P}$+<=>^`|~]+/gu;
  const source = step.slice("split(".length, -1).replaceAll("(?i:'s|'t|'re|'ve|'m|'ll|'d)", "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])");
  return new RegExp(source, "gu");
}

/** An isolating split: matches and the text between them become separate pieces. */
function isolate(piece: string, regex: RegExp): string[] {
  const out: string[] = [];
  let last = 0;
  for (const match of piece.matchAll(regex)) {
    if (match[0] === "") continue;
    if (match.index! > last) out.push(piece.slice(last, match.index));
    out.push(match[0]);
    last = match.index! + match[0].length;
  }
  if (last < piece.length) out.push(piece.slice(last));
  return out;
}

interface ByteLevelBpe {
  tokenizer: Record<string, unknown>;
  steps: readonly string[];
}

/** Hugging Face's ids for a text, for a byte-level BPE tokenizer.json; undefined where it uses a normaliser this does not model. */
export function encodeByteLevel({ tokenizer, steps }: ByteLevelBpe, text: string): number[] | undefined {
  const normalizers = flattenSequence(tokenizer.normalizer, "normalizers");
  if (normalizers.some((n) => n.type !== "NFC")) return undefined;
  const model = tokenizer.model as Record<string, unknown>;
  const vocab = model.vocab as Record<string, number>;
  const rank = new Map<string, number>();
  (model.merges as unknown[]).forEach((m, i) => {
    const pair = typeof m === "string" ? m : (m as string[]).join(" ");
    if (!rank.has(pair)) rank.set(pair, i);
  });
  const added = (Array.isArray(tokenizer.added_tokens) ? tokenizer.added_tokens : []) as { id: number; content: string }[];
  const addedId = new Map(added.map((t) => [t.content, t.id]));
  const addedRegex = added.length
    ? new RegExp([...addedId.keys()].sort((a, b) => b.length - a.length).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "gu")
    : undefined;
  const regexes = steps.map(stepRegex);

  const ids: number[] = [];
  const encodeSegment = (segment: string) => {
    let pieces = [normalizers.length ? segment.normalize("NFC") : segment];
    for (const regex of regexes) pieces = pieces.flatMap((p) => isolate(p, regex));
    for (const piece of pieces) ids.push(...bpe(bytesToByteLevel(new TextEncoder().encode(piece)), vocab, rank, model.ignore_merges === true));
  };
  const segments = addedRegex ? isolate(text, addedRegex) : [text];
  for (const segment of segments) {
    const id = addedId.get(segment);
    if (id !== undefined) ids.push(id);
    else encodeSegment(segment);
  }
  return [...specialIds(tokenizer.post_processor, "prefix"), ...ids, ...specialIds(tokenizer.post_processor, "suffix")];
}

function bpe(word: string, vocab: Record<string, number>, rank: Map<string, number>, ignoreMerges: boolean): number[] {
  if (ignoreMerges && word in vocab) return [vocab[word]];
  let parts = [...word];
  for (;;) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i + 1 < parts.length; i++) {
      const r = rank.get(`${parts[i]} ${parts[i + 1]}`);
      if (r !== undefined && r < bestRank) {
        bestRank = r;
        best = i;
      }
    }
    if (best < 0) break;
    const pair = [parts[best], parts[best + 1]];
    const merged: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      if (i + 1 < parts.length && parts[i] === pair[0] && parts[i + 1] === pair[1]) {
        merged.push(pair[0] + pair[1]);
        i++;
      } else merged.push(parts[i]);
    }
    parts = merged;
  }
  return parts.map((p) => vocab[p] ?? -1);
}

/** The special-token ids a post-processor puts before or after a single sequence. */
export function specialIds(processor: unknown, where: "prefix" | "suffix"): number[] {
  const out: number[] = [];
  for (const p of flattenSequence(processor, "processors")) {
    if (p.type !== "TemplateProcessing" || !Array.isArray(p.single)) continue;
    const single = p.single as Record<string, { id: string }>[];
    const sequenceAt = single.findIndex((piece) => "Sequence" in piece);
    const part = where === "prefix" ? single.slice(0, sequenceAt) : single.slice(sequenceAt + 1);
    const specials = (p.special_tokens ?? {}) as Record<string, { ids: number[] }>;
    for (const piece of part) if (piece.SpecialToken) out.push(...(specials[piece.SpecialToken.id]?.ids ?? []));
  }
  return out;
}

/** convert_hf_to_gguf.py's check-text hash of a byte-level tokenizer (undefined where it cannot be reproduced). */
export function checkTextHash(tokenizer: ByteLevelBpe): string | undefined {
  let ids: number[] | undefined;
  try {
    ids = encodeByteLevel(tokenizer, CHECK_TEXT);
  } catch {
    // A regex JavaScript cannot compile (Hugging Face's are Rust/Oniguruma): no cross-check, the structure decides.
    return undefined;
  }
  if (!ids || ids.includes(-1)) return undefined;
  return createHash("sha256").update(`[${ids.join(", ")}]`).digest("hex");
}
