/**
 * One convention for every verb, checked on every verb `cogen` registers: `--help` exits 0 and
 * prints the usage; a wrong command line exits 2 as `cogen <verb>: <message>` (node's parser text
 * never shows); a missing input file exits 1 with the one wording "no such file or folder".
 * A new verb is run here automatically; give it a MISSING_FILE case.
 */
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VERBS } from "../../src/cli/main.js";
import { capture } from "./capture.js";

let dir: string;
beforeAll(async () => { dir = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-cli-conventions-")); });
afterAll(async () => { await fs.rm(dir, { recursive: true, force: true }); });

const missing = () => path.join(dir, "absent.file");
const out = () => path.join(dir, "out");

/** Per verb, a command line whose input file does not exist. */
const MISSING_FILE: Record<string, () => string[]> = {
  inspect: () => [missing()],
  convert: () => [missing(), out()],
  zoo: () => ["eval", "--zoo", missing()],
  rank: () => [missing()],
  select: () => [missing(), "--domain", "overall"],
  merge: () => [missing(), out()],
  moe: () => [missing(), out()],
  lora: () => ["extract", "--base", missing(), "--model", missing(), "--rank", "2", out()],
  adapt: () => ["lora", "--base", missing(), "--data", missing(), out()],
  eval: () => ["--models", missing(), "--tasks", missing(), "--out", out()],
  worker: () => ["--queue", "redis://127.0.0.1:1", "--models", missing()],
  distill: () => ["targets", "--sources", missing(), "--corpus", missing(), "--out", out()],
  serve: () => ["--config", missing()],
  demo: () => ["--zoo", missing(), "--out", out()],
  unify: () => ["--models", missing(), "--tasks", missing(), out()],
  hub: () => ["--config", missing()],
};

/** Subcommands have their own help and flags. */
const SUBCOMMANDS: string[][] = [
  ["zoo", "data"], ["zoo", "build"], ["zoo", "eval"], ["zoo", "moe"],
  ["lora", "extract"], ["lora", "apply"], ["adapt", "lora"], ["adapt", "compose"], ["adapt", "evolve"], ["zoo", "unseen"],
  ["distill", "targets"], ["distill", "prefs"], ["distill", "pairs"], ["distill", "train"],
  ["moe", "train-gates"],
];

/** Commands with a subcommand level answer a bare call with a usage error. */
const DISPATCHERS = ["zoo", "lora", "adapt", "distill"];

const NODE_PARSER_TEXT = /To specify a positional|ERR_PARSE_ARGS|TypeError|argument is ambiguous/;

function expectUsageError(result: { code: number; out: string; err: string }, command: string, message: RegExp): void {
  expect(result.code, result.err).toBe(2);
  expect(result.err.split("\n")[0]).toMatch(new RegExp(`^cogen ${command}: `));
  expect(result.err).toMatch(message);
  expect(result.err).not.toMatch(NODE_PARSER_TEXT);
  expect(result.err).not.toMatch(new RegExp(`^cogen ${command}: ${command.split(" ")[0]}[ :]`));
}

describe("every cogen verb follows one convention", () => {
  it("has a missing-file case for every registered verb", () => {
    expect(VERBS.filter((verb) => !MISSING_FILE[verb])).toEqual([]);
  });

  it.each(VERBS.map((v) => [v]))("%s --help exits 0 and prints its usage on stdout", async (verb) => {
    const result = await capture([verb, "--help"]);
    expect(result.code, result.err).toBe(0);
    expect(result.out).toMatch(new RegExp(`usage: cogen ${verb}\\b`));
    expect(result.err).toBe("");
  });

  it.each(SUBCOMMANDS)("%s %s --help exits 0 and prints its usage", async (verb, sub) => {
    const result = await capture([verb, sub, "--help"]);
    expect(result.code, result.err).toBe(0);
    expect(result.out).toMatch(new RegExp(`usage: cogen ${verb}`));
  });

  it("offers --json on every command that prints a table or report (all but the long-running servers)", async () => {
    const servers = ["serve", "worker"];
    const commands = [...VERBS.filter((v) => !DISPATCHERS.includes(v) && !servers.includes(v)).map((v) => [v]), ...SUBCOMMANDS];
    const without: string[] = [];
    for (const argv of commands) if (!/--json\b/.test((await capture([...argv, "--help"])).out)) without.push(argv.join(" "));
    expect(without).toEqual([]);
  });

  it.each(VERBS.map((v) => [v]))("%s with an unknown option exits 2 and names it", async (verb) => {
    const argv = DISPATCHERS.includes(verb) ? [verb, SUBCOMMANDS.find(([v]) => v === verb)![1], "--bogus"] : [verb, "--bogus"];
    const command = DISPATCHERS.includes(verb) ? argv.slice(0, 2).join(" ") : verb;
    expectUsageError(await capture(argv), command, /unknown option '--bogus'/);
  });

  it.each(SUBCOMMANDS)("%s %s with an unknown option exits 2", async (verb, sub) => {
    const result = await capture([verb, sub, "--bogus"]);
    expect(result.code, result.err).toBe(2);
    expect(result.err).toMatch(new RegExp(`^cogen ${verb}( ${sub})?: unknown option '--bogus'`));
    expect(result.err).not.toMatch(NODE_PARSER_TEXT);
  });

  it.each(DISPATCHERS.map((v) => [v]))("%s without a subcommand, or with an unknown one, exits 2", async (verb) => {
    expectUsageError(await capture([verb]), verb, /give a subcommand/);
    expectUsageError(await capture([verb, "bogus"]), verb, /unknown subcommand 'bogus'/);
  });

  it.each(VERBS.map((v) => [v]))("%s with a missing input file exits 1 with the one wording", async (verb) => {
    const result = await capture([verb, ...MISSING_FILE[verb]()]);
    expect(result.code, result.err).toBe(1);
    expect(result.err).toMatch(new RegExp(`^cogen ${verb}( [a-z-]+)?: \\S*absent\\.file\\S*: no such file or folder`));
    expect(result.err.split("\n")).toHaveLength(1);
  });
});

describe("cogen's own flags and messages", () => {
  it("prints the package version for --version and -V", async () => {
    const { version } = JSON.parse(await fs.readFile(path.join(import.meta.dirname, "../../package.json"), "utf8")) as { version: string };
    for (const flag of ["--version", "-V"]) {
      const result = await capture([flag]);
      expect(result.code).toBe(0);
      expect(result.out.trim()).toBe(`cogen ${version}`);
    }
  });

  it("suggests the closest option for a misspelt one, and the closest verb", async () => {
    expectUsageError(await capture(["rank", "--jsno"]), "rank", /unknown option '--jsno' \(did you mean '--json'\?\)/);
    const verb = await capture(["rnak"]);
    expect(verb.code).toBe(2);
    expect(verb.err).toMatch(/^cogen: unknown command 'rnak' \(did you mean 'rank'\?\)/);
  });

  it("says a flag needs a value, and that a switch takes none, in its own words", async () => {
    expectUsageError(await capture(["merge", "c.yml", "out", "--seed"]), "merge", /--seed needs a value/);
    expectUsageError(await capture(["merge", "c.yml", "out", "--seed", "--json"]), "merge", /--seed needs a value \(got '--json'; write --seed=--json if that is the value/);
    // A value that starts with a dash is ambiguous to node's parser; cogen says so in its own words.
    expectUsageError(await capture(["rank", "r.csv", "--seed", "-1"]), "rank", /--seed needs a value \(got '-1'; write --seed=-1 if that is the value\)/);
    expectUsageError(await capture(["rank", "r.csv", "--seed=-1"]), "rank", /--seed: expected an integer ≥ 0, got '-1'/);
    expectUsageError(await capture(["merge", "c.yml", "out", "--json=yes"]), "merge", /--json is a switch and takes no value/);
    expectUsageError(await capture(["inspect", "a.gguf", "b.gguf"]), "inspect", /give exactly one PATH \(got 2\)/);
    expectUsageError(await capture(["demo", "extra"]), "demo", /unexpected argument 'extra'/);
  });

  /** Numeric flags across verbs: one wording, whatever the verb, and never a silent NaN or 0. */
  const NUMBERS: Array<[string[], RegExp]> = [
    [["inspect", "m.gguf", "--limit", "abc"], /--limit: expected an integer ≥ 1, got 'abc'/],
    [["inspect", "m.gguf", "--limit="], /--limit: expected an integer ≥ 1, got ''/],
    [["rank", "r.csv", "--bootstrap", "1.5"], /--bootstrap: expected an integer ≥ 0, got '1.5'/],
    [["rank", "r.csv", "--discrimination-sd", "0"], /--discrimination-sd: expected a number > 0, got '0'/],
    [["select", "r.json", "--domain", "law", "--top", "0"], /--top: expected an integer ≥ 1, got '0'/],
    [["merge", "c.yml", "out", "--threads", "two"], /--threads: expected an integer ≥ 1, got 'two'/],
    [["moe", "c.yml", "out", "--seed", "0x10"], /--seed: expected an integer ≥ 0, got '0x10'/],
    [["lora", "extract", "--base", "b", "--model", "m", "--rank", "4", "--seed", "s", "out"], /--seed: expected an integer ≥ 0, got 's'/],
    [["zoo", "data", "--per-domain", "1e3"], /--per-domain: expected an integer from 1 to 100000, got '1e3'/],
    [["demo", "--items", "1.5"], /--items: expected an integer ≥ 1, got '1.5'/],
    [["unify", "--models", "m.yml", "--tasks", "t.jsonl", "out", "--passage-chars", "8"], /--passage-chars: expected an integer ≥ 16, got '8'/],
  ];
  it.each(NUMBERS)("%j: a bad number is a usage error in the one wording", async (argv, message) => {
    const command = ["lora", "zoo"].includes(argv[0]) ? argv.slice(0, 2).join(" ") : argv[0];
    expectUsageError(await capture(argv), command, message);
  });

  it("lists several problems at once without doubling the verb", async () => {
    const result = await capture(["eval", "--concurrency", "0"]);
    expectUsageError(result, "eval", /4 problems:[\s\S]*--models is required[\s\S]*--tasks is required[\s\S]*--out is required[\s\S]*--concurrency must be an integer ≥ 1/);
  });

  it("says in one line, never a stack trace, when an output cannot be written", async () => {
    const file = path.join(dir, "a-file");
    await fs.writeFile(file, "in the way\n");
    const gguf = path.join(import.meta.dirname, "../../zoo/b/base/model.gguf");
    const result = await capture(["convert", gguf, path.join(file, "out")]);
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/^cogen convert: \S*a-file: exists and is not a folder \(EEXIST, mkdir\)$/);
  });

  it("prints the command list for a bare 'cogen' with exit 2 and for --help with exit 0", async () => {
    const bare = await capture([]);
    expect(bare.code).toBe(2);
    expect(bare.err).toMatch(/^usage: cogen <command>/);
    const help = await capture(["--help"]);
    expect(help.code).toBe(0);
    for (const verb of VERBS) expect(help.out).toMatch(new RegExp(`^  ${verb} `, "m"));
  });
});
