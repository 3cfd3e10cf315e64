/** Index of the largest value; the first one on ties (numpy's argmax). −1 for an empty array. */
export function argmax(values: ArrayLike<number>): number {
  if (values.length === 0) return -1;
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}
