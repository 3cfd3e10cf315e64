/**
 * FuseLLM's token alignment: two tokenisations of one text are aligned by dynamic programming
 * that minimises the summed edit distance between paired token strings (dynamic time warping, so
 * one token may pair with several on the other side), after word-start markers are removed.
 */

/** Word-start markers of byte-level BPE (Ġ), SentencePiece (▁) and their decoded form (a space). */
const WORD_START = /^[\s\u0120\u2581]+/u;

export function stripWordStart(token: string): string {
  return token.replace(WORD_START, "");
}

/** Levenshtein distance (unit costs) between two strings, by UTF-16 code unit. */
export function editDistance(a: string, b: string, row: Uint32Array = new Uint32Array(b.length + 1)): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  for (let j = 0; j <= b.length; j++) row[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    const ca = a.charCodeAt(i - 1);
    for (let j = 1; j <= b.length; j++) {
      const up = row[j];
      row[j] = Math.min(up + 1, row[j - 1] + 1, diagonal + (ca === b.charCodeAt(j - 1) ? 0 : 1));
      diagonal = up;
    }
  }
  return row[b.length];
}

/**
 * The minimum-cost monotone alignment of `a` to `b` (both non-empty): pairs (i, j) from (0, 0) to
 * (n−1, m−1), each step advancing i, j or both, minimising Σ editDistance(strip(a[i]), strip(b[j])).
 * Ties prefer the diagonal, then advancing `a`. Returns for each j the first i paired with it and
 * for each i the first j, as Int32Arrays.
 */
export function alignTokens(a: readonly string[], b: readonly string[]): { firstAOfB: Int32Array; firstBOfA: Int32Array } {
  const n = a.length;
  const m = b.length;
  const firstAOfB = new Int32Array(m).fill(-1);
  const firstBOfA = new Int32Array(n).fill(-1);
  if (n === 0 || m === 0) return { firstAOfB, firstBOfA };
  const sa = a.map(stripWordStart);
  const sb = b.map(stripWordStart);
  const row = new Uint32Array(Math.max(1, ...sb.map((s) => s.length)) + 1);
  const cost = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      const d = editDistance(sa[i], sb[j], row);
      const at = i * m + j;
      if (i === 0 && j === 0) cost[at] = d;
      else if (i === 0) cost[at] = d + cost[at - 1];
      else if (j === 0) cost[at] = d + cost[at - m];
      else cost[at] = d + Math.min(cost[at - m - 1], cost[at - m], cost[at - 1]);
    }
  }
  // Walk back from the end; the path is recorded backwards, so the last write is the first pair.
  let i = n - 1;
  let j = m - 1;
  for (;;) {
    firstAOfB[j] = i;
    firstBOfA[i] = j;
    if (i === 0 && j === 0) break;
    if (i === 0) j--;
    else if (j === 0) i--;
    else {
      const diagonal = cost[(i - 1) * m + j - 1];
      const up = cost[(i - 1) * m + j];
      const left = cost[i * m + j - 1];
      if (diagonal <= up && diagonal <= left) {
        i--;
        j--;
      } else if (up <= left) i--;
      else j--;
    }
  }
  return { firstAOfB, firstBOfA };
}
