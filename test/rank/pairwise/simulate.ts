// Simulated votes from planted strengths, for recovery tests.
import type { Comparison } from "../../../src/core/evidence.js";
import { Rng } from "../../../src/core/rng.js";

/** Votes between random pairs under Bradley–Terry with ratings on the Arena scale; ties under Davidson when nu > 0. */
export function simulateVotes(ratings: Record<string, number>, votes: number, seed: number, nu = 0): Comparison[] {
  const names = Object.keys(ratings);
  const rng = new Rng(seed);
  const out: Comparison[] = [];
  for (let k = 0; k < votes; k++) {
    const x = rng.int(names.length);
    let y = rng.int(names.length - 1);
    if (y >= x) y++;
    const a = names[x];
    const b = names[y];
    const pa = Math.pow(10, (ratings[a] - 1000) / 400);
    const pb = Math.pow(10, (ratings[b] - 1000) / 400);
    const pt = nu * Math.sqrt(pa * pb);
    const u = rng.next() * (pa + pb + pt);
    out.push({ a, b, outcome: u < pa ? "a" : u < pa + pb ? "b" : "tie" });
  }
  return out;
}
