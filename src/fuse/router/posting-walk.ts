/**
 * The inner loop of term-at-a-time retrieval — for each listed posting range, add weight × value
 * to the partial dot product of the posting's item — as a small WebAssembly function over one
 * linear memory that holds the postings, the partial sums and the ranges. The same loop in
 * JavaScript ran at ~4 ns per posting inside a class (V8 reloads each typed array's base and
 * length per iteration when it cannot prove them constant); compiled ahead of time it runs at
 * ~2 ns. The partial sums only bound similarities (the index rescores exactly), so values may be
 * rounded up: with up to 65,536 items a posting is 4 bytes (u16 item, u16 fixed-point value),
 * half of what a walk streams from memory; the sums stay within ~1e-4 above the exact ones.
 */
import { ConfigError } from "../../core/errors.js";

/** The part of the WebAssembly JavaScript API used here (Node has it; the project's TypeScript libs do not declare it). */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: new (limits: { initial: number; maximum: number }) => { buffer: ArrayBuffer };
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
 * postings (8 bytes): the address as i32, the value as f32. Narrow ones (4 bytes, for up to 65,536
 * items: half the memory a walk streams): the item as u16, the value as u16 fixed point rounded
 * up (the weight passed is scaled by 1/65535), so a partial sum is never under the exact one.
 */
const WIDE_POSTING = (offset: number) => [
  ...get(P), op.i32Load, ...mem(2, offset), op.localTee, AT,
  ...get(AT), op.f64Load, ...mem(3),
  ...get(WEIGHT), ...get(P), op.f32Load, ...mem(2, offset + 4), op.f64PromoteF32, op.f64Mul, op.f64Add,
  op.f64Store, ...mem(3),
];
const NARROW_POSTING = (offset: number) => [
  ...get(P), op.i32Load16U, ...mem(1, offset), op.i32Const, 3, op.i32Shl, op.localTee, AT,
  ...get(AT), op.f64Load, ...mem(3),
  ...get(WEIGHT), ...get(P), op.i32Load16U, ...mem(1, offset + 2), op.f64ConvertI32U, op.f64Mul, op.f64Add,
  op.f64Store, ...mem(3),
];
/** p += bytes */
const ADVANCE = (bytes: number) => [...get(P), op.i32Const, ...sleb(bytes), op.i32Add, ...set(P)];

function walkBody(posting: (offset: number) => number[], bytes: number): number[] {
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

/** Items a narrow posting can name (u16). */
const NARROW_ITEMS = 65536;
/** The narrow postings' fixed-point unit: value v is stored as ⌈v × FIXED⌉ (values are in [0, 1]). */
const FIXED = 65535;
const compiled: { wide?: object; narrow?: object } = {};


/**
 * Posting lists (item, value) and one partial sum per item, in WebAssembly memory, with the
 * loop that walks them. Fill the postings with `put`; `add` posting ranges, `run`.
 */
export class PostingWalk {
  /** Partial dot product per item: `run` adds to it (never less than the exact sum); the caller clears it. */
  readonly partial: Float64Array;
  /** Narrow (4-byte) postings: up to 65,536 items. */
  private readonly narrow: boolean;
  private readonly postingBytes: number;
  /** Posting p, wide: words[2p] = its item's byte address in `partial` (item × 8), floats[2p + 1] = its value. */
  private readonly words: Int32Array;
  private readonly floats: Float32Array;
  /** Posting p, narrow: halves[2p] = its item, halves[2p + 1] = ⌈value × FIXED⌉. */
  private readonly halves: Uint16Array;
  private readonly rangeWords: Int32Array;
  private readonly rangeWeights: Float64Array;
  private readonly rangesAt: number;
  private readonly postingsAt: number;
  private readonly walk: (ranges: number, count: number) => void;
  private queued = 0;
  /** What the prefetching loads in `add` read (kept so that they are not optimised away). */
  private touched = 0;

  constructor(postings: number, itemCount: number) {
    this.narrow = itemCount <= NARROW_ITEMS;
    this.postingBytes = this.narrow ? 4 : 8;
    // Layout: partial sums (from 0, 8-aligned: an item's address is item × 8), ranges, postings.
    this.rangesAt = 8 * itemCount;
    this.postingsAt = this.rangesAt + 16 * RANGES;
    const bytes = this.postingsAt + this.postingBytes * postings;
    const pages = Math.ceil(bytes / PAGE);
    if (pages > MAX_PAGES) throw new ConfigError([`a router index of ${postings} postings needs ${bytes} bytes of posting memory, past WebAssembly's 4 GiB`]);
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
    const module = this.narrow
      ? (compiled.narrow ??= new WebAssembly.Module(walkModule(walkBody(NARROW_POSTING, 4))))
      : (compiled.wide ??= new WebAssembly.Module(walkModule(walkBody(WIDE_POSTING, 8))));
    this.walk = new WebAssembly.Instance(module, { env: { memory } }).exports.walk as PostingWalk["walk"];
    const buffer = memory.buffer;
    this.partial = new Float64Array(buffer, 0, itemCount);
    this.rangeWords = new Int32Array(buffer, this.rangesAt, 4 * RANGES);
    this.rangeWeights = new Float64Array(buffer, this.rangesAt, 2 * RANGES);
    const words = this.narrow ? postings : 2 * postings;
    this.words = new Int32Array(buffer, this.postingsAt, words);
    this.floats = new Float32Array(buffer, this.postingsAt, words);
    this.halves = new Uint16Array(buffer, this.postingsAt, 2 * words);
  }

  /** Sets posting `at` to (item, value); values are in [0, 1] (L2-normalised weights). */
  put(at: number, item: number, value: number): void {
    if (!(value >= 0 && value <= 1)) throw new RangeError(`a posting's value must be in [0, 1], not ${value}`);
    if (this.narrow) {
      this.halves[2 * at] = item;
      this.halves[2 * at + 1] = Math.ceil(value * FIXED);
    } else {
      this.words[2 * at] = 8 * item;
      this.floats[2 * at + 1] = value;
    }
  }

  /** Queues partial[item] += weight × value for the postings in [start, end). */
  add(start: number, end: number, weight: number): void {
    if (this.queued === RANGES) this.run();
    const at = this.queued++;
    // Byte addresses; past 2^31 they wrap to negative int32s, which the kernel compares unsigned.
    this.rangeWords[4 * at] = this.postingsAt + this.postingBytes * start;
    this.rangeWords[4 * at + 1] = this.postingsAt + this.postingBytes * end;
    this.rangeWeights[2 * at + 1] = this.narrow ? weight / FIXED : weight;
    // The range's first two cache lines, loaded now: the misses of every list queued are in
    // flight together instead of one at a time as the walk reaches each list (cold lists: ~11%
    // of a walk's time).
    if (end > start) {
      const first = (this.postingBytes / 4) * start;
      const last = (this.postingBytes / 4) * end - 1;
      this.touched = (this.touched + this.words[first] + this.words[Math.min(first + 16, last)]) | 0;
    }
  }

  /** Walks the queued ranges, in the order queued, each posting in order. */
  run(): void {
    if (this.queued > 0) this.walk(this.rangesAt, this.queued);
    this.queued = 0;
  }
}
