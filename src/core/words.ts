/** "1 domain", "3 domains": a count with its noun, for messages and report pages. */
export function countOf(n: number, noun: string, plural = `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}
