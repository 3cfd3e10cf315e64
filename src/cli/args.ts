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

export { parseSize } from "../core/bytes.js";
