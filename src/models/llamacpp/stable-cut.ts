/**
 * Where a text's tokens cannot change whatever is appended to it, so that the tokens of a long
 * text plus a few characters come from tokenizing only its last word plus those characters (a
 * token-level ensemble scores a long context plus each of ~8 candidates at every step).
 *
 * llama.cpp splits text into pieces before merging tokens, and merges never cross pieces:
 * - BPE (`gpt2`) splits with its pre-tokenizer's regexes. In the families below no alternative
 *   can run from a non-whitespace character into a following space, and none looks past a
 *   space it stops at, so a space right after a letter, digit, punctuation or symbol ends every
 *   piece before it, decided by the characters before it; the regexes have no look-behind or
 *   anchors, so what follows is split as if the text began at that space.
 * - SentencePiece (`llama`) merges adjacent symbols into vocabulary pieces, spaces written "▁":
 *   when no piece holds "▁" right after another character, a "▁" after a non-space can never
 *   join what is before it, and merges on either side never meet.
 * So tokens(text + more) = tokens(text[..at]) ++ tokens(text[at..] + more) for the last such
 * space `at`. A vocabulary with user-defined tokens (matched in raw text before splitting) or
 * another pre-tokenizer gets no cut, and callers tokenize the whole text.
 */
import { familyOfName } from "../../formats/hf/pre-tokenizer.js";
import { TokenType, type GgufVocab } from "../../formats/hf/tokenizer.js";

/** BPE pre-tokenizer families whose regexes keep such a space a piece boundary (others: llama.cpp's multi-step or anchored lists). */
const CUTTABLE_PRE_TOKENIZERS = new Set(["gpt-2", "llama-bpe", "qwen2", "smollm", "gpt-4o", "tekken"]);
/** A character no tokenizer counts as whitespace. */
const SOLID = /[\p{L}\p{N}\p{P}\p{S}]/u;
const SPM_SPACE = "▁";

/** Cuts of texts for llama.cpp's tokenizer of one vocabulary. */
export interface TextCutter {
  /** Whether text[..at] keeps its tokens whatever follows (`at` holds a space). */
  isCut(text: string, at: number): boolean;
  /** The last cut of `text`, or −1 (tokenize it whole). */
  lastCut(text: string): number;
  /** What to tokenize for text[at..] at a cut (SentencePiece's space prefix is dropped where llama.cpp adds it back). */
  tail(text: string, at: number): string;
}

/** A cutter for llama.cpp's tokenizer of `vocab`, or undefined where no cut is known to be exact. */
export function stableCutter(vocab: GgufVocab | undefined): TextCutter | undefined {
  if (!vocab || vocab.tokenTypes.some((type) => type === TokenType.userDefined)) return undefined;
  if (vocab.model === "gpt2") {
    const family = vocab.pre === undefined ? undefined : familyOfName(vocab.pre);
    if (!family || !CUTTABLE_PRE_TOKENIZERS.has(family.name)) return undefined;
    return cutter((c) => SOLID.test(c), false);
  }
  if (vocab.model === "llama") {
    if (vocab.tokens.some(joinsSpaceToItsLeft)) return undefined;
    // llama.cpp's default for SentencePiece vocabularies without the key.
    // A "▁" typed in the text is a space to SentencePiece too ("▁▁" pieces may join it to the cut's).
    return cutter((c) => c !== " " && c !== SPM_SPACE, vocab.addSpacePrefix ?? true);
  }
  return undefined;
}

/** Cuts at a space whose preceding character passes `before`; `spacePrefix`: the tokenizer prepends a space itself. */
function cutter(before: (c: string) => boolean, spacePrefix: boolean): TextCutter {
  const isCut = (text: string, at: number) => at >= 1 && text.charCodeAt(at) === 0x20 && before(charBefore(text, at));
  return {
    isCut,
    lastCut(text) {
      for (let at = text.lastIndexOf(" "); at >= 1; at = text.lastIndexOf(" ", at - 1)) if (isCut(text, at)) return at;
      return -1;
    },
    tail: (text, at) => text.slice(spacePrefix ? at + 1 : at),
  };
}

/** The whole character before index `at` (a surrogate pair is one). */
function charBefore(text: string, at: number): string {
  const low = text.charCodeAt(at - 1);
  return text.slice(low >= 0xdc00 && low <= 0xdfff && at >= 2 ? at - 2 : at - 1, at);
}
/** A SentencePiece piece with "▁" right after another character (it could merge a space into the word before it). */
function joinsSpaceToItsLeft(piece: string): boolean {
  for (let i = piece.indexOf(SPM_SPACE, 1); i > 0; i = piece.indexOf(SPM_SPACE, i + 1)) if (piece[i - 1] !== SPM_SPACE) return true;
  return false;
}
