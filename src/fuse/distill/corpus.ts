/**
 * A distillation corpus: `.txt` (one text per line) or `.jsonl` (one object per line with a string
 * `text`). A text that is empty or looks binary is kept in place as a counted skip, so text
 * indices (and shard boundaries) do not depend on which lines were usable.
 */
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import { InputFileError } from "../../core/errors.js";
import { forEachJsonlObject } from "../../formats/jsonl.js";
import type { SkipReason } from "../../formats/topk-shard.js";
import { readFailure } from "../../core/files.js";

export interface CorpusText {
  /** 1-based line of the corpus file. */
  line: number;
  text: string;
  /** A JSONL text's `domain`, when given (for per-domain source priors). */
  domain?: string;
  /** Why no source scores it (a too-long text is decided per source, later). */
  skip?: Extract<SkipReason, "empty" | "binary">;
}

export interface DistillCorpus {
  file: string;
  /** sha256 of the file's bytes: targets name the corpus they were computed from. */
  hash: string;
  texts: CorpusText[];
}

/** Control characters other than tab, and U+FFFD (what an invalid UTF-8 byte decodes to). */
function looksBinary(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c === 0xfffd) return true;
  }
  return false;
}

export function classifyText(text: string): CorpusText["skip"] {
  if (text.trim() === "") return "empty";
  if (looksBinary(text)) return "binary";
  return undefined;
}

export async function readDistillCorpus(file: string): Promise<DistillCorpus> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (error) {
    throw readFailure(file, error);
  }
  return parseDistillCorpus(bytes, file);
}

export function parseDistillCorpus(bytes: Uint8Array, file: string): DistillCorpus {
  const hash = createHash("sha256").update(bytes).digest("hex");
  const text = new TextDecoder("utf-8").decode(bytes);
  const texts: CorpusText[] = [];
  const add = (line: number, value: string, domain?: string) => {
    const skip = classifyText(value);
    texts.push({ line, text: value, ...(domain !== undefined ? { domain } : {}), ...(skip ? { skip } : {}) });
  };
  if (/\.jsonl$/i.test(file)) {
    forEachJsonlObject(text, file, "with a string field 'text'", (record, line) => {
      if (typeof record.text !== "string") throw new InputFileError(file, `field 'text' must be a string, got ${record.text === undefined ? "nothing" : typeof record.text}`, line);
      if (record.domain !== undefined && typeof record.domain !== "string") throw new InputFileError(file, `field 'domain' must be a string, got ${typeof record.domain}`, line);
      add(line, record.text, record.domain as string | undefined);
    });
  } else {
    const lines = text.split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    lines.forEach((raw, i) => add(i + 1, raw.endsWith("\r") ? raw.slice(0, -1) : raw));
  }
  if (texts.length === 0) throw new InputFileError(file, "holds no texts");
  return { file, hash, texts };
}
