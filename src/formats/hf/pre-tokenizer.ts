/**
 * Which of llama.cpp's BPE pre-tokenizers (`tokenizer.ggml.pre`) a Hugging Face byte-level
 * tokenizer.json uses. llama.cpp cannot run a tokenizer.json's pre-tokenizer: it knows a fixed set
 * of regex lists by name (src/llama-vocab.cpp of the bundled llama.cpp), so a tokenizer converts
 * only when its pre-tokenizer splits text exactly as one of those lists does.
 *
 * The pre-tokenizer is reduced to the sequence of splits it performs — a `Split` (Isolated, not
 * inverted) is its regex, `Digits` is `\p{N}` or `\p{N}+`, `Punctuation` a run of punctuation,
 * `ByteLevel` with `use_regex` the GPT-2 regex — and that sequence is looked up among the
 * families below, written as the tokenizer.json files of those families spell them.
 */

/** The GPT-2 regex (ByteLevel's `use_regex`). */
export const GPT2_REGEX = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
/** English contractions, case-insensitive, as tokenizer.json files write them and as llama.cpp rewrites them. */
const CONTRACTIONS_CI = "(?i:'s|'t|'re|'ve|'m|'ll|'d)";
const CONTRACTIONS_EXPANDED = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";

const LLAMA3_REGEX = `${CONTRACTIONS_CI}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`;
const QWEN2_REGEX = `${CONTRACTIONS_CI}|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`;
const CASED_WORD = "[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]";
const LOWER_WORD = "[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]";
const GPT4O_REGEX =
  `[^\\r\\n\\p{L}\\p{N}]?${CASED_WORD}*${LOWER_WORD}+${CONTRACTIONS_CI}?|[^\\r\\n\\p{L}\\p{N}]?${CASED_WORD}+${LOWER_WORD}*${CONTRACTIONS_CI}?` +
  `|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`;
const TEKKEN_REGEX =
  `[^\\r\\n\\p{L}\\p{N}]?${CASED_WORD}*${LOWER_WORD}+|[^\\r\\n\\p{L}\\p{N}]?${CASED_WORD}+${LOWER_WORD}*` +
  `|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+`;
const CJK = "[一-龥ࠀ-一가-퟿]+";
const DEEPSEEK_LATIN =
  "\\s?[A-Za-z\u{b5}\u{c0}-\u{d6}\u{d8}-\u{f6}\u{f8}-\u{1ba}\u{1bc}-\u{1bf}\u{1c4}-\u{293}\u{295}-\u{2af}\u{370}-\u{373}\u{376}\u{377}\u{37b}-\u{37d}\u{37f}\u{386}\u{388}-\u{38a}\u{38c}\u{38e}-\u{3a1}\u{3a3}-\u{3f5}\u{3f7}-\u{481}\u{48a}-\u{52f}\u{531}-\u{556}\u{10a0}-\u{10c5}\u{13a0}-\u{13f5}\u{13f8}-\u{13fd}\u{1c90}-\u{1cba}\u{1cbd}-\u{1cbf}\u{1d00}-\u{1d2b}\u{1d6b}-\u{1d77}\u{1d79}-\u{1d9a}\u{1e00}-\u{1f15}\u{1f18}-\u{1f1d}\u{1f20}-\u{1f45}\u{1f48}-\u{1f4d}\u{1f50}-\u{1f57}\u{1f59}\u{1f5b}\u{1f5d}\u{1f5f}-\u{1f7d}\u{1f80}-\u{1fb4}\u{1fb6}-\u{1fbc}\u{1fbe}\u{1fc2}-\u{1fc4}\u{1fc6}-\u{1fcc}\u{1fd0}-\u{1fd3}\u{1fd6}-\u{1fdb}\u{1fe0}-\u{1fec}\u{1ff2}-\u{1ff4}\u{1ff6}-\u{1ffc}\u{2102}\u{2107}\u{210a}-\u{2113}\u{2115}\u{2119}-\u{211d}\u{2124}\u{2126}\u{2128}\u{212a}-\u{212d}\u{212f}-\u{2134}\u{2139}\u{213c}-\u{213f}\u{2145}-\u{2149}\u{214e}\u{2183}\u{2184}\u{2c00}-\u{2c7b}\u{2c7e}-\u{2ce4}\u{2ceb}-\u{2cee}\u{2cf2}\u{2cf3}\u{a640}-\u{a66d}\u{a680}-\u{a69b}\u{a722}-\u{a76f}\u{a771}-\u{a787}\u{a78b}-\u{a78e}\u{ab70}-\u{abbf}\u{fb00}-\u{fb06}\u{fb13}-\u{fb17}\u{ff21}-\u{ff3a}\u{ff41}-\u{ff5a}\u{10400}-\u{1044f}\u{104b0}-\u{104d3}\u{104d8}-\u{104fb}\u{10c80}-\u{10cb2}\u{10cc0}-\u{10cf2}\u{118a0}-\u{118df}\u{1e900}-\u{1e943}]+";
const DEEPSEEK3_MAIN =
  "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+";

/** A split step; CR and LF are written escaped, as tokenizer.json files may write them either way. */
const split = (regex: string) => `split(${regex.replaceAll("\r", "\\r").replaceAll("\n", "\\n")})`;
const DIGITS = "digits(individual)";
const DIGIT_RUNS = "digits(contiguous)";
const PUNCTUATION_RUNS = "punctuation(contiguous)";

export interface PreTokenizerFamily {
  /** The name written to `tokenizer.ggml.pre`. */
  name: string;
  /** Other names llama.cpp gives the same regexes; the check-text hash picks one of them. */
  aliases: string[];
  /** The splits, in order. */
  steps: string[];
  /** Models that ship it, for messages and docs. */
  examples: string;
}

/** The byte-level BPE pre-tokenizers of llama-family models that llama.cpp knows. */
export const PRE_TOKENIZER_FAMILIES: readonly PreTokenizerFamily[] = [
  { name: "gpt-2", aliases: ["phi-2", "mpt", "olmo", "jais", "gpt3-finnish"], steps: [split(GPT2_REGEX)], examples: "GPT-2, Phi-2" },
  { name: "llama-bpe", aliases: ["llama3", "llama-v3", "falcon3", "pixtral", "dbrx", "smaug-bpe", "chatglm-bpe", "glm4"], steps: [split(LLAMA3_REGEX)], examples: "Llama 3.x" },
  { name: "qwen2", aliases: ["deepseek-r1-qwen", "megrez", "stablelm2", "hunyuan", "grok-2"], steps: [split(QWEN2_REGEX)], examples: "Qwen2, Qwen2.5" },
  { name: "smollm", aliases: ["starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b"], steps: [DIGITS, split(GPT2_REGEX)], examples: "SmolLM, StarCoder" },
  { name: "falcon", aliases: [], steps: [PUNCTUATION_RUNS, split(GPT2_REGEX), DIGIT_RUNS, split("[0-9][0-9][0-9]")], examples: "Falcon" },
  {
    name: "deepseek-llm",
    aliases: [],
    steps: [split("[\r\n]"), split(DEEPSEEK_LATIN), split("\\s?[!-/:-~！-／：-～‘-‟　-。]+"), split("\\s+$"), split(CJK), DIGIT_RUNS],
    examples: "DeepSeek LLM",
  },
  { name: "deepseek-coder", aliases: [], steps: [split("[\r\n]"), split("\\s?\\p{L}+"), split("\\s?\\p{P}+"), split(CJK), DIGITS], examples: "DeepSeek Coder" },
  { name: "deepseek-v3", aliases: [], steps: [split("\\p{N}{1,3}"), split("[一-龥぀-ゟ゠-ヿ]+"), split(DEEPSEEK3_MAIN)], examples: "DeepSeek V3" },
  { name: "gpt-4o", aliases: ["llama4"], steps: [split(GPT4O_REGEX)], examples: "Phi-4, Llama 4" },
  { name: "tekken", aliases: [], steps: [split(TEKKEN_REGEX)], examples: "Mistral Nemo" },
];

/** Every name llama.cpp accepts for a family above (the family's name and its aliases). */
export function familyOfName(name: string): PreTokenizerFamily | undefined {
  return PRE_TOKENIZER_FAMILIES.find((f) => f.name === name || f.aliases.includes(name));
}

export type PreTokenizerSteps = { steps: string[] } | { problem: string };

function describe(node: Record<string, unknown>): string {
  const { type, ...rest } = node;
  return `${String(type)}${JSON.stringify(rest)}`;
}

/** The splits a tokenizer.json pre-tokenizer performs, or why llama.cpp cannot reproduce it. */
export function preTokenizerSteps(preTokenizer: unknown): PreTokenizerSteps {
  const nodes = flattenSequence(preTokenizer);
  const steps: string[] = [];
  let byteLevel = false;
  for (const node of nodes) {
    switch (node.type) {
      case "ByteLevel":
        if (node.add_prefix_space === true) return { problem: `${describe(node)} adds a prefix space, which llama.cpp's BPE tokenizer never does` };
        byteLevel = true;
        if (node.use_regex !== false) steps.push(split(GPT2_REGEX));
        break;
      case "Split": {
        const pattern = node.pattern as Record<string, unknown> | undefined;
        const regex = typeof pattern?.Regex === "string" ? pattern.Regex : undefined;
        if (regex === undefined || node.behavior !== "Isolated" || node.invert === true) {
          return { problem: `${describe(node)} is not an isolating regex split, the only kind llama.cpp runs` };
        }
        // The GPT-2 regex is written with and without a final `|\s+` (the same splits).
        const canonical = regex.replaceAll(CONTRACTIONS_EXPANDED, CONTRACTIONS_CI);
        steps.push(split(canonical === `${GPT2_REGEX}|\\s+` ? GPT2_REGEX : canonical));
        break;
      }
      case "Digits":
        steps.push(node.individual_digits === true ? DIGITS : DIGIT_RUNS);
        break;
      case "Punctuation":
        if (node.behavior !== "Contiguous") return { problem: `${describe(node)} has a behaviour llama.cpp does not implement` };
        steps.push(PUNCTUATION_RUNS);
        break;
      default:
        return { problem: `the pre-tokenizer ${describe(node)} is not one llama.cpp implements` };
    }
  }
  if (!byteLevel) return { problem: "a BPE tokenizer without byte_fallback must map bytes with a ByteLevel pre-tokenizer" };
  return { steps };
}

/** The family whose splits are exactly these, if any. */
export function familyOfSteps(steps: readonly string[]): PreTokenizerFamily | undefined {
  return PRE_TOKENIZER_FAMILIES.find((f) => f.steps.length === steps.length && f.steps.every((s, i) => s === steps[i]));
}

/** A pre-tokenizer (or normaliser) `Sequence` as its flat list of members. */
export function flattenSequence(node: unknown, key = "pretokenizers"): Record<string, unknown>[] {
  if (typeof node !== "object" || node === null) return [];
  const n = node as Record<string, unknown>;
  if (n.type === "Sequence" && Array.isArray(n[key])) return (n[key] as unknown[]).flatMap((m) => flattenSequence(m, key));
  return [n];
}

/**
 * A tokenizer.json pre-tokenizer for a llama.cpp name (GGUF → Hugging Face, when the GGUF carries
 * no tokenizer.json): the family's splits, with ByteLevel where the GPT-2 regex is. Unknown names
 * get GPT-2's, as llama.cpp's own default is close to it.
 */
export function preTokenizerJson(name: string | undefined): Record<string, unknown> {
  const family = (name !== undefined ? familyOfName(name) : undefined) ?? PRE_TOKENIZER_FAMILIES[0];
  const byteLevel = (useRegex: boolean) => ({ type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: useRegex });
  const nodes: Record<string, unknown>[] = family.steps.map((step) => {
    if (step === split(GPT2_REGEX)) return byteLevel(true);
    if (step === DIGITS || step === DIGIT_RUNS) return { type: "Digits", individual_digits: step === DIGITS };
    if (step === PUNCTUATION_RUNS) return { type: "Punctuation", behavior: "Contiguous" };
    return { type: "Split", pattern: { Regex: step.slice("split(".length, -1) }, behavior: "Isolated", invert: false };
  });
  if (!family.steps.includes(split(GPT2_REGEX))) nodes.push(byteLevel(false));
  return nodes.length === 1 ? nodes[0] : { type: "Sequence", pretokenizers: nodes };
}
