/**
 * "Did you mean …?" for misspelt names in configs: the closest known name by edit distance
 * (adjacent transpositions count as one edit), compared case-insensitively with `-` and `_`
 * treated alike, and only when it is close enough to be a likely typo.
 */

/** Optimal string alignment distance (Damerau–Levenshtein without repeated edits of a substring). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array(rows * cols);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[(i - 1) * cols + j] + 1, d[i * cols + j - 1] + 1, d[(i - 1) * cols + j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[(i - 2) * cols + j - 2] + 1);
      d[i * cols + j] = best;
    }
  }
  return d[rows * cols - 1];
}

const normalise = (name: string) => name.toLowerCase().replace(/-/g, "_");

/** The known name `name` most likely misspells, or undefined when none is close. */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  const target = normalise(name);
  // Up to one edit for short names, about one per three characters for longer ones.
  const limit = Math.max(1, Math.floor(target.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const distance = editDistance(target, normalise(candidate));
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= limit ? best : undefined;
}

/** " (did you mean 'x'?)" when a known name is close, else "". */
export function didYouMean(name: string, known: Iterable<string>): string {
  const close = closestName(name, known);
  return close === undefined ? "" : ` (did you mean '${close}'?)`;
}

/**
 * The problems for the keys of `record` that are not in `known`, one each, as
 * "WHERE.key: unknown WHAT 'key' (did you mean 'x'?); known: a, b". `where(key)` locates a key.
 */
export function unknownKeys(record: Record<string, unknown>, known: readonly string[], what: string, where: (key: string) => string): string[] {
  return Object.keys(record)
    .filter((key) => !known.includes(key))
    .map((key) => `${where(key)}: unknown ${what} '${key}'${didYouMean(key, known)}; known: ${known.join(", ") || "none"}`);
}
