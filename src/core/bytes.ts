import { ConfigError } from "./errors.js";

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

/** Parse a size like `5B`, `500M`, `2GiB` or `1000000` into bytes. */
export function parseSize(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(i?B?)?$/i.exec(text.trim());
  if (!match) throw new ConfigError([`${flag}: '${text}' is not a size (examples: 5B, 500M, 2GiB)`]);
  const powers: Record<string, number> = { "": 0, K: 1, M: 2, G: 3, T: 4 };
  const binary = match[3]?.toLowerCase().startsWith("i");
  const scale = (binary ? 1024 : 1000) ** powers[match[2].toUpperCase()];
  // A bare "B" after a number means billions, as mergekit's --out-shard-size 5B does.
  const billions = !match[2] && match[3]?.toUpperCase() === "B";
  return Math.round(Number(match[1]) * (billions ? 1e9 : scale));
}
