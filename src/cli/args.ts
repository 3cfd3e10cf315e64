import { parseArgs, type ParseArgsConfig } from "node:util";
import { ConfigError } from "../core/errors.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * Parse a verb's flags with node's own parser; unknown flags and missing values become a
 * ConfigError that names the flag, instead of node's TypeError.
 */
export function parseFlags<O extends Options>(
  argv: string[],
  options: O,
  help: string,
): { values: ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>>["values"]; positionals: string[] } {
  if (argv.includes("--help") || argv.includes("-h")) {
    console.log(help);
    process.exit(0);
  }
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new ConfigError([(error as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, "")], "flags");
  }
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
