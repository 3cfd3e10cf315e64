/**
 * A user's own training text for `cogen adapt lora`: a UTF-8 .txt file, a folder of them, or a
 * JSONL file whose records carry a `text` field. Documents are .txt paragraphs (blank-line
 * separated) or JSONL records; each goes to the held-out side or the training side by a seeded
 * hash of its text (zoo/split.ts), so the split never depends on file order. Bad input — an empty,
 * binary or non-UTF-8 file, a JSONL line without text — is refused with the file (and line) named.
 */
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { InputFileError } from "../core/errors.js";
import { forEachJsonlObject } from "../formats/jsonl.js";
import { fnv1a32 } from "../zoo/split.js";

export interface UserDocument {
  /** file, or file:line for JSONL. */
  source: string;
  text: string;
  /** What follows the document when documents are joined: a blank line after a paragraph, a newline after a record. */
  separator: "\n" | "\n\n";
}

export interface UserData {
  files: string[];
  documents: UserDocument[];
  /** sha256 over every file's bytes, in sorted path order. */
  sha256: string;
  bytes: number;
}

export interface DataSplit {
  train: string;
  heldOut: string;
  trainDocuments: number;
  heldOutDocuments: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

export async function readUserData(input: string): Promise<UserData> {
  let stat;
  try {
    stat = await fs.stat(input);
  } catch {
    throw new InputFileError(input, "no such file or folder (give a .txt file, a folder of .txt files or a .jsonl file with a text field)");
  }
  let files: string[];
  if (stat.isDirectory()) {
    files = (await fs.readdir(input, { recursive: true }))
      .map(String)
      .filter((f) => /\.(txt|jsonl)$/i.test(f))
      .sort()
      .map((f) => path.join(input, f));
    if (files.length === 0) throw new InputFileError(input, "the folder holds no .txt or .jsonl files");
  } else files = [input];
  const hash = createHash("sha256");
  const documents: UserDocument[] = [];
  let bytes = 0;
  for (const file of files) {
    const raw = await fs.readFile(file);
    hash.update(path.relative(stat.isDirectory() ? input : path.dirname(input), file)).update("\0").update(raw);
    bytes += raw.length;
    const text = decodeText(file, raw);
    documents.push(...(/\.jsonl$/i.test(file) ? jsonlDocuments(file, text) : paragraphs(file, text)));
  }
  return { files, documents, sha256: hash.digest("hex"), bytes };
}

/** UTF-8 text of a file, or an error saying what the bytes look like instead. */
export function decodeText(file: string, raw: Uint8Array): string {
  if (raw.length === 0) throw new InputFileError(file, "is empty");
  if ((raw[0] === 0xff && raw[1] === 0xfe) || (raw[0] === 0xfe && raw[1] === 0xff)) {
    throw new InputFileError(file, "is UTF-16 (byte-order mark); convert it to UTF-8, e.g. iconv -f UTF-16 -t UTF-8");
  }
  const sample = raw.subarray(0, 65536);
  let control = 0;
  for (const b of sample) {
    if (b === 0) throw new InputFileError(file, "looks binary (it contains NUL bytes); give plain UTF-8 text");
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c) control++;
  }
  if (control > sample.length / 100) throw new InputFileError(file, `looks binary (${control} control bytes in the first ${sample.length}); give plain UTF-8 text`);
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    const at = firstInvalidUtf8(raw);
    throw new InputFileError(file, `is not valid UTF-8 (first bad byte 0x${raw[at].toString(16)} at offset ${at}; another encoding such as Latin-1 or Windows-1252?); convert it to UTF-8, e.g. iconv -f LATIN1 -t UTF-8`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === "") throw new InputFileError(file, "holds only white space");
  return text;
}

function firstInvalidUtf8(raw: Uint8Array): number {
  let lo = 0;
  let hi = raw.length;
  // The longest prefix that decodes (allowing a cut multi-byte sequence at its end) ends near the bad byte.
  const decoder = new TextDecoder("utf-8", { fatal: true });
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    try {
      decoder.decode(raw.subarray(0, mid), { stream: true });
      lo = mid;
    } catch {
      hi = mid;
    }
  }
  // lo ends a prefix that decodes only as the start of a cut sequence; the bad sequence starts at its lead byte.
  let i = lo;
  while (i > 0 && raw[i - 1] >= 0x80 && raw[i - 1] < 0xc0) i--;
  return i > 0 && raw[i - 1] >= 0xc0 ? i - 1 : lo;
}

function paragraphs(file: string, text: string): UserDocument[] {
  return text
    .replace(/\r\n?/g, "\n")
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter((p) => p.length > 0)
    .map((p) => ({ source: file, text: p, separator: "\n\n" as const }));
}

function jsonlDocuments(file: string, text: string): UserDocument[] {
  const out: UserDocument[] = [];
  forEachJsonlObject(text, file, "with a string field 'text'", (record, line) => {
    if (typeof record.text !== "string") throw new InputFileError(file, "needs a string field 'text' in every record", line);
    if (record.text.trim() !== "") out.push({ source: `${file}:${line}`, text: record.text.trim(), separator: "\n" });
  });
  if (out.length === 0) throw new InputFileError(file, "has no record with non-empty text");
  return out;
}

/**
 * Held out ⇔ fnv1a32(`adapt-split/${seed}/${text}`) mod 1000 < perMille. With fewer than one
 * document on a side the one with the smallest hash is moved over, so both sides are non-empty
 * whenever there are two documents.
 */
export function splitUserData(data: UserData, options: { seed?: number; heldOutPerMille?: number } = {}): DataSplit {
  const seed = options.seed ?? 0;
  const perMille = options.heldOutPerMille ?? 100;
  if (data.documents.length < 2) {
    throw new InputFileError(data.files[0], `holds ${data.documents.length} document(s); a held-out split needs at least 2 (paragraphs separated by a blank line, or JSONL records)`);
  }
  const keyed = data.documents.map((d) => ({ d, h: fnv1a32(`adapt-split/${seed}/${d.text}`) % 1000 }));
  let held = keyed.filter((k) => k.h < perMille);
  let train = keyed.filter((k) => k.h >= perMille);
  const byHash = (a: { h: number }, b: { h: number }) => a.h - b.h;
  if (held.length === 0) {
    held = [train.sort(byHash)[0]];
    train = train.filter((k) => k !== held[0]);
  } else if (train.length === 0) {
    train = [held.sort(byHash)[held.length - 1]];
    held = held.filter((k) => k !== train[0]);
  }
  const join = (ks: { d: UserDocument }[]) => ks.map((k) => k.d.text + k.d.separator).join("");
  return { train: join(train), heldOut: join(held), trainDocuments: train.length, heldOutDocuments: held.length };
}
