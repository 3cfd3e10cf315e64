/**
 * `part / whole` as a percentage for people: "73%". A share of nothing has no value, so a zero
 * (or non-finite) denominator gives "n/a", never "NaN%" or "Infinity%".
 */
export function formatShare(part: number, whole: number, digits = 0): string {
  const share = part / whole;
  return whole === 0 || !Number.isFinite(share) ? "n/a" : `${(share * 100).toFixed(digits)}%`;
}
