/**
 * Linear-time top-k selection by magnitude: a two-pass radix select over the IEEE-754 bits of
 * |x| (which order like unsigned integers), never a sort. Ties at the threshold are broken by
 * index, lowest first, so the result is deterministic.
 */

const HIGH_BINS = 65536;

/**
 * The k-th largest |x| (1-based k) as a bit pattern, and how many entries equal to it belong to
 * the top k (`ties`, lowest indices first). `threshold` is -1 when k <= 0. NaN must not occur.
 */
export function kthLargestAbs(x: Float32Array, k: number): { threshold: number; ties: number } {
  if (k <= 0) return { threshold: -1, ties: 0 };
  const bits = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const high = new Uint32Array(HIGH_BINS);
  countHighBits(bits, high);
  const pick = pickHighBin(high, k);
  const low = new Uint32Array(HIGH_BINS);
  countLowBits(bits, pick.bin, low);
  return pickThreshold(low, pick);
}

/**
 * The same selection over data seen in pieces (chunked merging): count every piece with
 * `countHighBits`, choose the bin with `pickHighBin`, count every piece again with `countLowBits`,
 * then `pickThreshold`. Histograms are `Uint32Array(HIGH_BINS)`; counts add across pieces.
 */
export const ABS_HISTOGRAM_BINS = HIGH_BINS;

/** Adds the high 15 bits of each |x| (x as IEEE-754 bits) to `high`. */
export function countHighBits(bits: Uint32Array, high: Uint32Array): void {
  for (let i = 0; i < bits.length; i++) high[(bits[i] & 0x7fffffff) >>> 16]++;
}

/** The high bin holding the k-th largest (k >= 1), and its rank within that bin. */
export function pickHighBin(high: Uint32Array, k: number): { bin: number; remaining: number } {
  let remaining = k;
  let bin = HIGH_BINS - 1;
  for (; bin > 0; bin--) {
    if (high[bin] >= remaining) break;
    remaining -= high[bin];
  }
  return { bin, remaining };
}

/** Adds the low 16 bits of each |x| whose high bits equal `bin` to `low`. */
export function countLowBits(bits: Uint32Array, bin: number, low: Uint32Array): void {
  for (let i = 0; i < bits.length; i++) {
    const a = bits[i] & 0x7fffffff;
    if (a >>> 16 === bin) low[a & 0xffff]++;
  }
}

export function pickThreshold(low: Uint32Array, high: { bin: number; remaining: number }): { threshold: number; ties: number } {
  let remaining = high.remaining;
  let lowBin = HIGH_BINS - 1;
  for (; lowBin > 0; lowBin--) {
    if (low[lowBin] >= remaining) break;
    remaining -= low[lowBin];
  }
  return { threshold: ((high.bin << 16) | lowBin) >>> 0, ties: remaining };
}

/**
 * Keep exactly `k` entries of largest |x| (mask 1), zero elsewhere. Returns a 0/1 mask.
 * `k >= n` keeps everything; `k <= 0` keeps nothing.
 */
export function topKMask(x: Float32Array, k: number): Uint8Array {
  const n = x.length;
  const mask = new Uint8Array(n);
  if (k >= n) return mask.fill(1);
  if (k <= 0) return mask;
  const found = kthLargestAbs(x, k);
  const threshold = found.threshold;
  let ties = found.ties;
  const bits = new Uint32Array(x.buffer, x.byteOffset, n);
  for (let i = 0; i < n; i++) {
    const a = bits[i] & 0x7fffffff;
    if (a > threshold) mask[i] = 1;
    else if (a === threshold && ties > 0) {
      mask[i] = 1;
      ties--;
    }
  }
  return mask;
}

/**
 * Keep the entries ranked (by |x| descending, ties by index) from `skipTop` to `skipTop + keep`:
 * drop the `skipTop` largest, keep the next `keep`, drop the rest.
 */
export function bandMask(x: Float32Array, skipTop: number, keep: number): Uint8Array {
  const upper = topKMask(x, skipTop + keep);
  if (skipTop <= 0) return upper;
  const top = topKMask(x, skipTop);
  for (let i = 0; i < upper.length; i++) upper[i] &= top[i] ^ 1;
  return upper;
}

/**
 * In place: keep the k entries of largest |x| (ties by lowest index) multiplied by `scale`, zero
 * the rest. Returns the L1 norms before and after masking (before scaling). One fused pass after
 * the two histogram passes: the hot path of TIES.
 */
export function keepTopKInPlace(x: Float32Array, k: number, scale: number): { before: number; after: number } {
  const n = x.length;
  let before = 0;
  let after = 0;
  if (k >= n) {
    for (let i = 0; i < n; i++) {
      const v = x[i];
      before += Math.abs(v);
      x[i] = v * scale;
    }
    return { before, after: before };
  }
  // k <= 0 keeps nothing (threshold -1 would otherwise admit every entry).
  const { threshold, ties } = k <= 0 ? { threshold: 0x80000000, ties: 0 } : kthLargestAbs(x, k);
  let remaining = ties;
  const bits = new Uint32Array(x.buffer, x.byteOffset, n);
  for (let i = 0; i < n; i++) {
    const a = bits[i] & 0x7fffffff;
    const v = x[i];
    const mag = Math.abs(v);
    before += mag;
    if (a > threshold || (a === threshold && remaining-- > 0)) {
      after += mag;
      x[i] = v * scale;
    } else x[i] = 0;
  }
  return { before, after };
}
