import { parseArgs, type ParseArgsConfig } from "node:util";
import { parseSize as parseByteSize } from "../core/bytes.js";
import { ConfigError } from "../core/errors.js";
import { didYouMean } from "../core/suggest.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * The command line itself is wrong (unknown flag, missing value, wrong number of arguments):
 * `cogen` prints `cogen <command>: <message>` and exits 2. Input and config errors exit 1.
 * `command` names a subcommand ("lora extract") when the problem is specific to it.
 */
export class UsageError extends ConfigError {
  constructor(problems: string[], readonly command?: string) {
    super(problems.length === 1 ? problems : [`${problems.length} problems:\n  - ${problems.join("\n  - ")}`]);
  }
}

/** Thrown by parseFlags after printing a command's help; `cogen` exits 0. */
export class HelpShown extends Error {
  constructor() {
    super("help shown");
  }
}

/**
 * Parse a verb's flags with node's own parser. `--help`/`-h` print `help` and end the command
 * (exit 0); unknown flags (with a did-you-mean), missing values and values given to switches are
 * UsageErrors in cogen's words, never node's. `at.positionals` bounds the plain arguments;
 * `at.command` names the (sub)command in messages (default: the one `help`'s usage line names).
 */
export function parseFlags<O extends Options>(
  argv: string[],
  options: O,
  help: string,
  at: { positionals?: number; command?: string } = {},
): { values: ReturnType<typeof parseArgs<{ options: O; allowPositionals: true; strict: true }>>["values"]; positionals: string[] } {
  const { tokens } = parseArgs({ args: argv, options, allowPositionals: true, strict: false, tokens: true });
  if (tokens.some((t) => t.kind === "option" && (t.name === "help" || t.name === "h") && !options[t.name])) {
    console.log(help);
    throw new HelpShown();
  }
  const known = Object.keys(options).map((name) => `--${name}`);
  const problems: string[] = [];
  let positionals = 0;
  for (const token of tokens) {
    if (token.kind === "positional") positionals++;
    if (token.kind !== "option") continue;
    const option = options[token.name];
    if (!option) {
      problems.push(`unknown option '${token.rawName}'${didYouMean(`--${token.name}`, known)}`);
    } else if (option.type === "boolean" && token.value !== undefined) {
      problems.push(`${token.rawName} is a switch and takes no value (got '${token.value}')`);
    } else if (option.type === "string" && token.value === undefined) {
      problems.push(`${token.rawName} needs a value`);
    } else if (option.type === "string" && !token.inlineValue && token.value !== undefined && /^-./.test(token.value)) {
      // `--out --json`: the next flag is not meant as the value; `--seed -1` is ambiguous to node's parser.
      problems.push(`${token.rawName} needs a value (got '${token.value}'; write ${token.rawName}=${token.value} if that is the value)`);
    }
  }
  const maxPositionals = at.positionals ?? Infinity;
  if (positionals > maxPositionals) {
    const extra = tokens.filter((t) => t.kind === "positional").slice(maxPositionals).map((t) => `'${t.value}'`);
    problems.push(`unexpected argument${extra.length > 1 ? "s" : ""} ${extra.join(" ")}`);
  }
  const command = at.command ?? /^usage: cogen ([a-z][a-z-]*(?: [a-z][a-z-]*)?)\b/.exec(help)?.[1];
  if (problems.length) throw new UsageError(problems, command);
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (error) {
    // Not reached for the cases above; keep node's text out of the message all the same.
    throw new UsageError([(error as Error).message.split("\n")[0].replace(/^TypeError \[[A-Z_]+\]: /, "").replace(/\. To specify .*$/, "")], command);
  }
}

/**
 * A whole-number flag, checked in one wording for every verb ("--seed: expected an integer ≥ 0,
 * got 'x'"). An absent flag gives undefined (the caller's default applies); a bad value is added
 * to `problems`, so that every problem of a command line is listed at once, and gives NaN.
 */
export function integerFlag(text: string | undefined, flag: string, problems: string[], min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (/^-?\d+$/.test(text.trim()) && Number.isSafeInteger(n) && n >= min && n <= max) return n;
  const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
  problems.push(`${flag}: expected an integer ${range}, got '${text}'`);
  return NaN;
}

/** A decimal flag, as `integerFlag`: finite, and ≥ `min` (or > `above`) when given. */
export function numberFlag(text: string | undefined, flag: string, problems: string[], bound: { min?: number; above?: number } = {}): number | undefined {
  if (text === undefined) return undefined;
  const n = text.trim() === "" ? NaN : Number(text);
  const { min = -Infinity, above } = bound;
  if (Number.isFinite(n) && n >= min && (above === undefined || n > above)) return n;
  const range = above !== undefined ? ` > ${above}` : min > -Infinity ? ` ≥ ${min}` : "";
  problems.push(`${flag}: expected a number${range}, got '${text}'`);
  return NaN;
}

/** core/bytes' parseSize for a flag: a size it cannot read is a usage error (exit 2). */
export function parseSize(text: string, flag: string): number {
  try {
    return parseByteSize(text, flag);
  } catch (error) {
    if (ConfigError.isInstance(error)) throw new UsageError(error.problems);
    throw error;
  }
}

/**
 * The subcommand at the front of `argv` for `cogen COMMAND SUB ...`: `--help` (or `help`) prints
 * `help` and ends the command; none or an unknown one is a UsageError naming the known ones.
 */
export function subcommand<S extends string>(argv: string[], known: readonly S[], help: string, command: string): { sub: S; rest: string[] } {
  const [sub, ...rest] = argv;
  if (sub === "--help" || sub === "-h" || sub === "help") {
    console.log(help);
    throw new HelpShown();
  }
  if (sub === undefined) throw new UsageError([`give a subcommand: ${known.join(", ")}`], command);
  if (!known.includes(sub as S)) {
    throw new UsageError([`unknown subcommand '${sub}'${didYouMean(sub, known)}; known: ${known.join(", ")}`], command);
  }
  return { sub: sub as S, rest };
}

/** The two flags every command that hands work to `cogen worker` shares. */
export const QUEUE_FLAGS = {
  queue: { type: "string" },
  "connect-timeout": { type: "string" },
} as const;

export interface QueueChoice {
  url: string;
  /** Undefined: retry until Redis answers. */
  timeoutSeconds?: number;
}

/** Checks QUEUE_FLAGS (problems go to `problems`); undefined when no --queue was given. */
export function queueChoice(values: { queue?: string; "connect-timeout"?: string }, problems: string[]): QueueChoice | undefined {
  const timeoutSeconds = numberFlag(values["connect-timeout"], "--connect-timeout", problems, { min: 0 });
  if (values.queue === undefined) {
    if (timeoutSeconds !== undefined) problems.push("--connect-timeout needs --queue");
    return undefined;
  }
  if (!/^rediss?:\/\//.test(values.queue)) problems.push(`--queue must be a redis://HOST:PORT URL, got '${values.queue}'`);
  return { url: values.queue, ...(timeoutSeconds === undefined ? {} : { timeoutSeconds }) };
}
