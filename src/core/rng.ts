import { createHash, randomInt } from "node:crypto";

/**
 * Seeded pseudo-random numbers. Every random choice in cogen takes a seed so that the same inputs
 * and seed give the same bytes. xoshiro128** seeded through splitmix32: fast, 32-bit only (no
 * BigInt), and good enough statistically for bootstrap, dropout masks and data shuffling.
 */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  constructor(seed: number) {
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
  }

  /** Uniform 32-bit unsigned integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 bits of precision. */
  next(): number {
    const hi = this.nextU32() >>> 5;
    const lo = this.nextU32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /**
   * Uniform integer in [0, n) from one 32-bit draw (Lemire's multiply-and-reject, exactly
   * uniform) where n < 2^21 keeps the product exact; half the cost of `int` for resampling loops.
   */
  below(n: number): number {
    if (n >= 2097152) return this.int(n);
    const threshold = 4294967296 % n;
    for (;;) {
      const product = this.nextU32() * n;
      const high = Math.floor(product / 4294967296);
      if (product - high * 4294967296 >= threshold) return high;
    }
  }

  /** Standard normal by Box–Muller. */
  normal(): number {
    let u = 0;
    while (u === 0) u = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    return items;
  }

  /** An independent generator derived from this one (for per-task streams). */
  fork(): Rng {
    return new Rng(this.nextU32());
  }
}

/** A seed named by a label ("pivots/7/law"): the first 32 bits (little-endian) of its SHA-256. */
export function seedFromLabel(label: string): number {
  return createHash("sha256").update(label).digest().readUInt32LE(0);
}

/**
 * A seed for a request that gave none: drawn from the operating system, so two unseeded sampling
 * requests differ (a clock-based seed repeats within its tick). Callers report it so the result
 * can be reproduced by passing it back. In [0, 2^31), which every backend's seed field accepts.
 */
export function freshSeed(): number {
  return randomInt(0, 2 ** 31);
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
