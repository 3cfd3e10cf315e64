/** Plain-text tables for the terminal; every command that prints one also has `--json`. */
export function formatTable(headers: string[], rows: (string | number)[][], align?: ("l" | "r")[]): string {
  const cells = rows.map((row) => row.map(String));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? "").length)));
  const pad = (text: string, i: number) => ((align?.[i] ?? "l") === "r" ? text.padStart(widths[i]) : text.padEnd(widths[i]));
  const line = (row: string[]) => row.map(pad).join("  ").trimEnd();
  return [line(headers), widths.map((w) => "-".repeat(w)).join("  "), ...cells.map(line)].join("\n");
}

export { formatBytes } from "../core/bytes.js";

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}
