import type { ResultRecord } from "../eval/result.js";

/**
 * Paired comparisons of two models on the same items (the demo's distillation goals use them).
 *
 * pairedMacroBpb: the difference of macro bits per byte (A − B; negative: A is better) and its
 * standard error, paired over the test passages. Per domain D the difference is
 *   d_D = Σᵢ (bitsᴬᵢ − bitsᴮᵢ) / Σᵢ bytesᵢ   (byte-weighted, as the table's bpb is),
 * with the ratio estimator's variance n/(n−1) · Σᵢ (δᵢ − d_D·bytesᵢ)² / (Σᵢ bytesᵢ)², δᵢ the
 * item's difference in bits; the macro difference averages domains, so its SE is
 * √(Σ_D SE_D²) / #domains. Only items both models scored count.
 */
export interface PairedDifference {
  diff: number;
  se: number;
  /** Items paired. */
  n: number;
}

export function pairedMacroBpb(records: readonly ResultRecord[], a: string, b: string, domains: readonly string[]): PairedDifference | undefined {
  const bits = (r: ResultRecord) => (r.bpb ?? 0) * (r.bytes ?? 0);
  const of = (model: string) => new Map(records.filter((r) => r.model === model && r.metric === "bpb").map((r) => [r.item, r]));
  const [ra, rb] = [of(a), of(b)];
  let sum = 0;
  let variance = 0;
  let n = 0;
  for (const domain of domains) {
    const pairs = [...ra.values()].filter((r) => r.domain === domain && rb.has(r.item)).map((r) => ({ delta: bits(r) - bits(rb.get(r.item)!), bytes: r.bytes ?? 0 }));
    const bytes = pairs.reduce((s, p) => s + p.bytes, 0);
    if (pairs.length < 2 || bytes === 0) return undefined;
    const d = pairs.reduce((s, p) => s + p.delta, 0) / bytes;
    const ss = pairs.reduce((s, p) => s + (p.delta - d * p.bytes) ** 2, 0);
    sum += d;
    variance += (pairs.length / (pairs.length - 1)) * ss / bytes ** 2;
    n += pairs.length;
  }
  return { diff: sum / domains.length, se: Math.sqrt(variance) / domains.length, n };
}

/**
 * Paired difference of mean accuracy (A − B) over the items both answered, with the SE of the
 * mean of per-item differences (sd/√n) and z = diff / se.
 */
export function pairedAccuracy(records: readonly ResultRecord[], a: string, b: string): PairedDifference & { z: number } | undefined {
  const rb = new Map(records.filter((r) => r.model === b && r.metric === "acc").map((r) => [r.item, r.score]));
  const deltas = records.filter((r) => r.model === a && r.metric === "acc" && rb.has(r.item)).map((r) => r.score - rb.get(r.item)!);
  const n = deltas.length;
  if (n < 2) return undefined;
  const diff = deltas.reduce((s, x) => s + x, 0) / n;
  const sd = Math.sqrt(deltas.reduce((s, x) => s + (x - diff) ** 2, 0) / (n - 1));
  const se = sd / Math.sqrt(n);
  return { diff, se, n, z: se > 0 ? diff / se : diff > 0 ? Infinity : diff < 0 ? -Infinity : 0 };
}
