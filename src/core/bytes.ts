/** A byte count for people: 1536 → "1.50 KiB". */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let value = n;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${value.toFixed(value < 10 ? 2 : 1)} ${units[i]}`;
}
