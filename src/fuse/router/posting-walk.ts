/**
 * The inner loop of term-at-a-time retrieval — for each listed posting range, add weight × value
 * to the partial dot product of the posting's item — as a small WebAssembly function over one
 * linear memory that holds the postings, the partial sums and the ranges. The same loop in
 * JavaScript ran at ~4 ns per posting inside a class (V8 reloads each typed array's base and
 * length per iteration when it cannot prove them constant); compiled ahead of time it runs at
 * ~2 ns. The partial sums only bound similarities (the index rescores exactly), so values may be
 * rounded up: with up to 65,536 items a posting is 2 bytes (the step from the list's previous
 * item, and the value as a fraction of the list's largest, rounded up to 1/255), a quarter of
 * the memory a walk streams at 8 bytes; the sums stay within ~1e-3 above the exact ones.
 */
import { ConfigError } from "../../core/errors.js";

/** The part of the WebAssembly JavaScript API used here (Node has it; the project's TypeScript libs do not declare it). */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (limits: { initial: number; maximum: number }) => { buffer: ArrayBuffer; grow(pages: number): number };
};

const PAGE = 65536;
/** wasm32 addresses 4 GiB: one page less, so that an address plus a few postings never wraps. */
const MAX_PAGES = 65535;
/** Ranges passed per call: (start byte, end byte, weight) = 16 bytes each. */
const RANGES = 4096;

// The few WebAssembly opcodes the kernel uses (binary format, WebAssembly core spec 1.0).
const I32 = 0x7f;
const F64 = 0x7c;
const op = {
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  i32Load8U: 0x2d,
  i32Load16U: 0x2f,
  f64Load: 0x2b,
  f32Load: 0x2a,
  f64Store: 0x39,
  i32Const: 0x41,
  i32GtU: 0x4b,
  i32GeU: 0x4f,
  i32Add: 0x6a,
  i32Shl: 0x74,
  f64Add: 0xa0,
  f64Mul: 0xa2,
  f64ConvertI32U: 0xb8,
  f64PromoteF32: 0xbb,
  void: 0x40,
} as const;

function uleb(x: number): number[] {
  const out: number[] = [];
  do {
    let byte = x & 0x7f;
    x >>>= 7;
    if (x !== 0) byte |= 0x80;
    out.push(byte);
  } while (x !== 0);
  return out;
}
/** Signed LEB128 (i32.const immediates). */
function sleb(x: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = x & 0x7f;
    x >>= 7;
    if ((x === 0 && (byte & 0x40) === 0) || (x === -1 && (byte & 0x40) !== 0)) return [...out, byte];
    out.push(byte | 0x80);
  }
}
const vector = (entries: number[][]) => [...uleb(entries.length), ...entries.flat()];
const name = (s: string) => vector([...s].map((c) => [c.charCodeAt(0)]));
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];

// walk(ranges, count): parameters 0–1, then locals p, end, weight, at.
const [RANGES_AT, COUNT, P, END, WEIGHT, AT] = [0, 1, 2, 3, 4, 5];
const get = (local: number) => [op.localGet, local];
const set = (local: number) => [op.localSet, local];
/** memarg: alignment exponent, offset. */
const mem = (align: number, offset = 0) => [align, ...uleb(offset)];
/** Postings per iteration of the unrolled loop: fewer loop steps per posting (the loop was instruction-bound). */
const UNROLL = 4;

/**
 * The posting at p + offset: memory[at = its item's byte address] += weight × its value. Wide
 * postings (8 bytes): the address as i32, the value as f32. Gap postings (2 bytes, for up to
 * 65,536 items): the item as a u8 step from the list's previous posting (longer steps take filler
 * postings of value 0, which add an exact +0), the value as a u8 fraction of the list's largest,
 * rounded up (the weight passed is scaled by that largest / 255), so a partial sum is never
 * under the exact one.
 */
const WIDE_POSTING = (offset: number) => [
  ...get(P), op.i32Load, ...mem(2, offset), op.localTee, AT,
  ...get(AT), op.f64Load, ...mem(3),
  ...get(WEIGHT), ...get(P), op.f32Load, ...mem(2, offset + 4), op.f64PromoteF32, op.f64Mul, op.f64Add,
  op.f64Store, ...mem(3),
];
const GAP_POSTING = (offset: number) => [
  ...get(AT), ...get(P), op.i32Load8U, ...mem(0, offset), op.i32Const, 3, op.i32Shl, op.i32Add, op.localTee, AT,
  ...get(AT), op.f64Load, ...mem(3),
  ...get(WEIGHT), ...get(P), op.i32Load8U, ...mem(0, offset + 1), op.f64ConvertI32U, op.f64Mul, op.f64Add,
  op.f64Store, ...mem(3),
];
/** p += bytes */
const ADVANCE = (bytes: number) => [...get(P), op.i32Const, ...sleb(bytes), op.i32Add, ...set(P)];
/** A gap-coded list opens with its first item as u16 (whose own step is 0): at = that item's address, p past it. */
const GAP_HEADER = [...get(P), op.i32Load16U, ...mem(0), op.i32Const, 3, op.i32Shl, ...set(AT), ...ADVANCE(2)];

function walkBody(posting: (offset: number) => number[], bytes: number, header: number[]): number[] {
  return [
    ...vector([
      [2, I32], // p, end (byte addresses of postings)
      [1, F64], // weight
      [1, I32], // at: the address of the item's partial sum
    ]),
    // count becomes the end of the ranges
    ...get(RANGES_AT), ...get(COUNT), op.i32Const, 4, op.i32Shl, op.i32Add, ...set(COUNT),
    op.block, op.void,
    op.loop, op.void,
    ...get(RANGES_AT), ...get(COUNT), op.i32GeU, op.brIf, 1,
    ...get(RANGES_AT), op.i32Load, ...mem(2, 0), ...set(P),
    ...get(RANGES_AT), op.i32Load, ...mem(2, 4), ...set(END),
    ...get(RANGES_AT), op.f64Load, ...mem(3, 8), ...set(WEIGHT),
    ...header,
    // UNROLL postings a step while that many are left (p + UNROLL postings ≤ end)…
    op.block, op.void,
    op.loop, op.void,
    ...get(P), op.i32Const, ...sleb(bytes * UNROLL), op.i32Add, ...get(END), op.i32GtU, op.brIf, 1,
    ...Array.from({ length: UNROLL }, (_, u) => posting(bytes * u)).flat(),
    ...ADVANCE(bytes * UNROLL),
    op.br, 0,
    op.end, op.end,
    // …then one at a time.
    op.block, op.void,
    op.loop, op.void,
    ...get(P), ...get(END), op.i32GeU, op.brIf, 1,
    ...posting(0),
    ...ADVANCE(bytes),
    op.br, 0,
    op.end, op.end,
    ...get(RANGES_AT), op.i32Const, 16, op.i32Add, ...set(RANGES_AT),
    op.br, 0,
    op.end, op.end,
    op.end,
  ];
}

function walkModule(body: number[]): Uint8Array {
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00], // "\0asm", version 1
    ...section(1, vector([[0x60, ...vector([[I32], [I32]]), 0]])), // type: (i32, i32) → ()
    ...section(2, vector([[...name("env"), ...name("memory"), 0x02, 0x00, 0x00]])), // import env.memory, min 0 pages
    ...section(3, vector([[0]])), // function 0 has type 0
    ...section(7, vector([[...name("walk"), 0x00, 0]])), // export "walk" = function 0
    ...section(10, vector([[...uleb(body.length), ...body]])),
  ]);
}

/** Items a gap-coded list can name (its first item is a u16). */
const GAP_ITEMS = 65536;
/** Gap postings are built from values in u16 fixed point, ⌈v × FIXED⌉ (values are in [0, 1]). */
const FIXED = 65535;
/** Bytes between the start of the gap-coded lists and the list-major copy they are written from (headers and fillers run ahead of 2 bytes a posting). */
const TEMP_SLACK = 1 << 20;
/** The largest step and value a gap posting holds (u8). */
const U8 = 255;
const compiled: { wide?: object; gap?: object } = {};

/** Items' features, item after item: item i's at [start[i], start[i + 1]), each naming a posting list (at most once per item) and a value in [0, 1]. */
export interface ItemFeatures {
  start: Int32Array;
  list: Int32Array;
  value: Float32Array;
}

/**
 * Posting lists (item, value), built from the items' features, and one partial sum per item, in
 * WebAssembly memory, with the loop that walks them: `add` lists with their weights, then `run`.
 */
export class PostingWalk {
  /** Partial dot product per item: `run` adds to it (never less than the exact sum); the caller clears it. */
  readonly partial: Float64Array;
  /**
   * Per list l, side by side (one cache miss for `add`): at 2l the byte address of its postings
   * (gap-coded: its first item, then its postings), which end at 2l + 2; at 2l + 1 what a weight
   * is multiplied by: the list's largest value / 255 (gap postings), 1 (wide).
   */
  private readonly list: Float64Array;
  private readonly bytes: Uint8Array;
  private readonly rangeWords: Int32Array;
  private readonly rangeWeights: Float64Array;
  private readonly rangesAt: number;
  private readonly walk: (ranges: number, count: number) => void;
  private queued = 0;
  /** What the prefetching loads in `add` read (kept so that they are not optimised away). */
  private touched = 0;

  constructor(itemCount: number, lists: number, features: ItemFeatures) {
    const { start, list, value } = features;
    const postings = start[itemCount];
    // Where each list's postings start, counting one per (item, feature): list l's at [first[l], first[l + 1]).
    const first = new Int32Array(lists + 1);
    for (let f = 0; f < postings; f++) {
      const v = value[f];
      if (!(v >= 0 && v <= 1)) throw new RangeError(`a posting's value must be in [0, 1], not ${v} (feature ${f})`);
      first[list[f] + 1]++;
    }
    for (let l = 0; l < lists; l++) first[l + 1] += first[l];
    const gaps = itemCount <= GAP_ITEMS;
    // Layout: partial sums (from 0, 8-aligned: an item's address is item × 8), ranges, postings.
    this.rangesAt = 8 * itemCount;
    const postingsAt = this.rangesAt + 16 * RANGES;
    // Gap postings are written list by list from a list-major copy (item, and value as u16 fixed
    // point rounded up) kept in the same memory, TEMP_SLACK bytes past where the lists start: they
    // take about half its bytes and are written from the front, behind it (no second 4 bytes a
    // posting for the garbage collector to account for: one more full collection of the caller's heap).
    const tempAt = postingsAt + TEMP_SLACK;
    const wideBytes = postingsAt + 8 * postings;
    const needed = gaps ? tempAt + 4 * postings : wideBytes;
    if (needed > MAX_PAGES * PAGE) throw new ConfigError([`a router index of ${postings} postings needs ${needed} bytes of posting memory, past WebAssembly's 4 GiB`]);
    const memory = new WebAssembly.Memory({ initial: Math.ceil(needed / PAGE), maximum: MAX_PAGES });
    let sorted = gaps ? new Uint16Array(memory.buffer, tempAt, 2 * postings) : undefined;
    const next = first.slice(0, lists);
    if (sorted) {
      for (let item = 0; item < itemCount; item++) {
        const end = start[item + 1];
        for (let f = start[item]; f < end; f++) {
          const at = 2 * next[list[f]]++;
          sorted[at] = item;
          sorted[at + 1] = Math.ceil(value[f] * FIXED);
        }
      }
    }
    this.list = new Float64Array(2 * lists + 1);
    this.list[0] = postingsAt;
    // Gap postings: each list's largest value (u16 fixed point), the unit of its u8 values.
    const largest = new Uint16Array(sorted ? lists : 0);
    // Whether every posting's bytes end before the next posting's place in the copy (else the copy moves out first).
    let behind = true;
    for (let l = 0; l < lists; l++) {
      let bytes = 8 * (first[l + 1] - first[l]);
      if (sorted) {
        // The first item, then one posting per item plus one filler per 255 items skipped.
        bytes = first[l + 1] > first[l] ? 2 : 0;
        let most = 0;
        const end = first[l + 1];
        const written = this.list[2 * l] - postingsAt;
        for (let at = first[l]; at < end; at++) {
          const step = at > first[l] ? sorted[2 * at] - sorted[2 * at - 2] : 0;
          bytes += step > U8 ? 2 + 2 * (((step - 1) / U8) | 0) : 2;
          if (written + bytes > TEMP_SLACK + 4 * (at + 1)) behind = false;
          if (sorted[2 * at + 1] > most) most = sorted[2 * at + 1];
        }
        largest[l] = most;
        this.list[2 * l + 1] = most / FIXED / U8;
      } else this.list[2 * l + 1] = 1;
      this.list[2 * l + 2] = this.list[2 * l] + bytes;
    }
    const pages = Math.ceil(this.list[2 * lists] / PAGE);
    if (pages > MAX_PAGES) throw new ConfigError([`a router index of ${postings} postings needs ${this.list[2 * lists]} bytes of posting memory, past WebAssembly's 4 GiB`]);
    const grow = pages - memory.buffer.byteLength / PAGE;
    if (sorted && (!behind || grow > 0)) sorted = sorted.slice();
    if (grow > 0) memory.grow(grow);
    const module = gaps
      ? (compiled.gap ??= new WebAssembly.Module(walkModule(walkBody(GAP_POSTING, 2, GAP_HEADER))))
      : (compiled.wide ??= new WebAssembly.Module(walkModule(walkBody(WIDE_POSTING, 8, []))));
    this.walk = new WebAssembly.Instance(module, { env: { memory } }).exports.walk as PostingWalk["walk"];
    const buffer = memory.buffer;
    this.partial = new Float64Array(buffer, 0, itemCount);
    this.rangeWords = new Int32Array(buffer, this.rangesAt, 4 * RANGES);
    this.rangeWeights = new Float64Array(buffer, this.rangesAt, 2 * RANGES);
    this.bytes = new Uint8Array(buffer);
    if (sorted) this.writeGaps(first, sorted, largest);
    else {
      // Each list's next posting, as a word index (memory is under 4 GiB: under 2^30 words).
      const at = Int32Array.from({ length: lists }, (_, l) => this.list[2 * l] / 4);
      const words = new Int32Array(buffer);
      const floats = new Float32Array(buffer);
      for (let item = 0; item < itemCount; item++) {
        const end = start[item + 1];
        for (let f = start[item]; f < end; f++) {
          const word = at[list[f]];
          at[list[f]] = word + 2;
          words[word] = 8 * item;
          floats[word + 1] = value[f];
        }
      }
    }
  }

  /**
   * Writes each list gap-coded from its list-major (item, u16 value) pairs: the first item (u16),
   * then (step, value) byte pairs, the value a fraction of the list's largest, rounded up.
   */
  private writeGaps(first: Int32Array, sorted: Uint16Array, largest: Uint16Array): void {
    const bytes = this.bytes;
    for (let l = 0; l + 1 < first.length; l++) {
      const end = first[l + 1];
      if (first[l] === end) continue;
      let p = this.list[2 * l];
      // 255 / the list's largest (0 when every value is 0).
      const scale = largest[l] > 0 ? U8 / largest[l] : 0;
      let previous = -1;
      for (let at = first[l]; at < end; at++) {
        // Read before anything is written: the copy may lie just ahead of the bytes written.
        const item = sorted[2 * at];
        const fixed = sorted[2 * at + 1];
        let step = item - previous;
        if (previous < 0) {
          bytes[p++] = item & 0xff;
          bytes[p++] = item >>> 8;
          step = 0;
        }
        for (; step > U8; step -= U8) {
          bytes[p++] = U8;
          bytes[p++] = 0;
        }
        bytes[p++] = step;
        // Rounded up (never under the exact value); the largest itself may round just past 255.
        bytes[p++] = Math.min(U8, Math.ceil(fixed * scale));
        previous = item;
      }
    }
  }

  /** Queues partial[item] += weight × value for the postings of `list`. */
  add(list: number, weight: number): void {
    const start = this.list[2 * list];
    const end = this.list[2 * list + 2];
    if (start === end) return;
    if (this.queued === RANGES) this.run();
    const at = this.queued++;
    // Byte addresses; past 2^31 they wrap to negative int32s, which the kernel compares unsigned.
    this.rangeWords[4 * at] = start;
    this.rangeWords[4 * at + 1] = end;
    this.rangeWeights[2 * at + 1] = weight * this.list[2 * list + 1];
    // The list's first two cache lines, loaded now: the misses of every list queued are in
    // flight together instead of one at a time as the walk reaches each list (cold lists: ~11%
    // of a walk's time).
    this.touched = (this.touched + this.bytes[start] + this.bytes[Math.min(start + 64, end - 1)]) | 0;
  }

  /** Walks the queued lists, in the order queued, each posting in order. */
  run(): void {
    if (this.queued > 0) this.walk(this.rangesAt, this.queued);
    this.queued = 0;
  }
}
