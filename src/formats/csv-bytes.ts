/**
 * RFC 4180 CSV read straight from UTF-8 bytes, for large files of which only a few columns are
 * wanted: each record is handed over as field boundaries (byte offsets), and a string is made only
 * for a field that is asked for. The rules and error messages are csv.ts's (a leading byte-order
 * mark dropped, blank lines skipped, records ended by LF, CRLF or a final CR; strict quoting), and
 * a test holds the two readers to the same records on the same text.
 */
import { InputFileError } from "../core/errors.js";

const QUOTE = 34; // "
const COMMA = 44; // ,
const LF = 10;
const CR = 13;

/** How a field is written: bare, between quotes, or between quotes with doubled quotes ("") inside. */
export const FieldQuoting = { Plain: 0, Quoted: 1, Escaped: 2 } as const;
export type FieldQuoting = (typeof FieldQuoting)[keyof typeof FieldQuoting];

/** The fields of one record: field k is bytes [start[k], end[k]), `count` fields in all. */
export class CsvSpans {
  count = 0;
  start: Int32Array;
  end: Int32Array;
  quoting: Uint8Array;

  constructor(capacity = 16) {
    this.start = new Int32Array(capacity);
    this.end = new Int32Array(capacity);
    this.quoting = new Uint8Array(capacity);
  }

  push(start: number, end: number, quoting: FieldQuoting): void {
    if (this.count === this.start.length) {
      const grow = <T extends Int32Array | Uint8Array>(a: T, b: T): T => (b.set(a), b);
      this.start = grow(this.start, new Int32Array(this.count * 2));
      this.end = grow(this.end, new Int32Array(this.count * 2));
      this.quoting = grow(this.quoting, new Uint8Array(this.count * 2));
    }
    this.start[this.count] = start;
    this.end[this.count] = end;
    this.quoting[this.count] = quoting;
    this.count++;
  }
}

/** The text of field k (decoded as UTF-8, doubled quotes undone). */
export function csvFieldText(bytes: Uint8Array, spans: CsvSpans, k: number): string {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8", spans.start[k], spans.end[k]);
  return spans.quoting[k] === FieldQuoting.Escaped ? text.replaceAll('""', '"') : text;
}

/**
 * Call `visit` with each record's field spans (reused between records: read them before
 * returning) and the 1-based line on which the record starts.
 */
export function forEachCsvSpans(bytes: Uint8Array, file: string, visit: (spans: CsvSpans, line: number) => void): void {
  const n = bytes.length;
  const spans = new CsvSpans();
  let pos = n >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  let line = 1;
  // A CR ends a record when a LF or the end of the text follows it.
  const endsRecord = (at: number): boolean => at >= n || bytes[at] === LF || (bytes[at] === CR && (at + 1 === n || bytes[at + 1] === LF));
  // The next quote in the text (n when none is left): a line without one is split at its commas
  // by a loop that looks at nothing else.
  let nextQuote = -1;
  while (pos < n) {
    if (endsRecord(pos)) {
      // A blank line.
      pos += bytes[pos] === CR ? 2 : 1;
      line++;
      continue;
    }
    const startLine = line;
    spans.count = 0;
    if (nextQuote < pos) {
      nextQuote = bytes.indexOf(QUOTE, pos);
      if (nextQuote < 0) nextQuote = n;
    }
    let lineEnd = bytes.indexOf(LF, pos);
    if (lineEnd < 0) lineEnd = n;
    if (nextQuote > lineEnd) {
      splitPlainLine(bytes, pos, bytes[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd, spans);
      visit(spans, startLine);
      pos = lineEnd + 1;
      line++;
      continue;
    }
    for (;;) {
      if (pos < n && bytes[pos] === QUOTE) {
        const quoteLine = line;
        const start = ++pos;
        let quoting: FieldQuoting = FieldQuoting.Quoted;
        for (;;) {
          if (pos >= n) throw new InputFileError(file, "unterminated quoted field", quoteLine);
          const c = bytes[pos];
          if (c === QUOTE) {
            if (pos + 1 < n && bytes[pos + 1] === QUOTE) {
              quoting = FieldQuoting.Escaped;
              pos += 2;
              continue;
            }
            break;
          }
          if (c === LF) line++;
          pos++;
        }
        spans.push(start, pos, quoting);
        pos++; // the closing quote
        if (pos < n && bytes[pos] === COMMA) {
          pos++;
          continue;
        }
        if (endsRecord(pos)) break;
        const shown = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8", pos, Math.min(n, pos + 4))[0];
        throw new InputFileError(file, `unexpected character ${JSON.stringify(shown)} after a closing quote`, line);
      }
      // Unquoted: up to the next comma or the end of the record.
      const start = pos;
      let c = 0;
      while (pos < n) {
        c = bytes[pos];
        if (c === COMMA || c === LF) break;
        if (c === QUOTE) throw new InputFileError(file, "a double quote inside an unquoted field (quote the whole field and double the quote)", line);
        if (c === CR && (pos + 1 === n || bytes[pos + 1] === LF)) break;
        pos++;
      }
      spans.push(start, pos, FieldQuoting.Plain);
      if (pos < n && c === COMMA) {
        pos++;
        continue;
      }
      break;
    }
    visit(spans, startLine);
    // The record's line break.
    if (pos < n) {
      pos += bytes[pos] === CR ? 2 : 1;
      line++;
    }
  }
}

/** Fields of a line without quotes, [from, stop), into `spans` (the hot loop of a large file). */
function splitPlainLine(bytes: Uint8Array, from: number, stop: number, spans: CsvSpans): void {
  let start = from;
  for (let p = from; p < stop; p++) {
    if (bytes[p] === COMMA) {
      spans.push(start, p, FieldQuoting.Plain);
      start = p + 1;
    }
  }
  spans.push(start, stop, FieldQuoting.Plain);
}

/**
 * Distinct values of CSV fields, each decoded once: a field's bytes (as written, quotes included)
 * are hashed and looked up, so a file with 135k rows and 50 names makes 50 strings.
 */
export class CsvFieldInterner<T> {
  private hashes = new Int32Array(256);
  /** Entry index + 1 per slot (0 = empty). */
  private slots = new Int32Array(256);
  private keyStart: number[] = [];
  private keyEnd: number[] = [];
  private readonly values: T[] = [];

  /** `make` turns a field's text into the value kept for it (it may throw to reject the field). */
  constructor(
    private readonly bytes: Uint8Array,
    private readonly make: (text: string) => T,
  ) {}

  /** The value for field k of `spans`. */
  get(spans: CsvSpans, k: number): T {
    const bytes = this.bytes;
    // The quotes are part of the key, so "x" and x are different keys with the same value.
    const quoted = spans.quoting[k] !== FieldQuoting.Plain ? 1 : 0;
    const start = spans.start[k] - quoted;
    const end = spans.end[k] + quoted;
    // The length and at most the first and last 8 bytes: O(1) per field; a full comparison of
    // the bytes follows every hash match anyway.
    let hash = Math.imul(0x811c9dc5 ^ (end - start), 0x01000193);
    const head = Math.min(end, start + 8);
    for (let p = start; p < head; p++) hash = Math.imul(hash ^ bytes[p], 0x01000193);
    for (let p = Math.max(head, end - 8); p < end; p++) hash = Math.imul(hash ^ bytes[p], 0x01000193);
    const mask = this.slots.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = this.slots[slot] - 1;
      if (entry < 0) return this.add(slot, hash, start, end, this.make(csvFieldText(bytes, spans, k)));
      if (this.hashes[slot] === hash && this.sameKey(entry, start, end)) return this.values[entry];
    }
  }

  private sameKey(entry: number, start: number, end: number): boolean {
    const s = this.keyStart[entry];
    if (this.keyEnd[entry] - s !== end - start) return false;
    const bytes = this.bytes;
    for (let p = 0; p < end - start; p++) if (bytes[s + p] !== bytes[start + p]) return false;
    return true;
  }

  private add(slot: number, hash: number, start: number, end: number, value: T): T {
    this.slots[slot] = this.values.length + 1;
    this.hashes[slot] = hash;
    this.keyStart.push(start);
    this.keyEnd.push(end);
    this.values.push(value);
    if (this.values.length * 2 > this.slots.length) this.rehash();
    return value;
  }

  private rehash(): void {
    const oldSlots = this.slots;
    const oldHashes = this.hashes;
    this.slots = new Int32Array(oldSlots.length * 2);
    this.hashes = new Int32Array(oldSlots.length * 2);
    const mask = this.slots.length - 1;
    for (let s = 0; s < oldSlots.length; s++) {
      if (oldSlots[s] === 0) continue;
      let slot = oldHashes[s] & mask;
      while (this.slots[slot] !== 0) slot = (slot + 1) & mask;
      this.slots[slot] = oldSlots[s];
      this.hashes[slot] = oldHashes[s];
    }
  }
}
