/**
 * `cogen select RANKING.json --domain D`: the best model(s) for a domain from a saved ranking,
 * with the probability that each is truly the best — no model is run.
 */
import { readRanking } from "../rank/ranking-file.js";
import { OVERALL, selectExperts } from "../rank/select.js";
import { integerFlag, parseFlags, UsageError } from "./args.js";
import { formatTable, printJson } from "./output.js";

const HELP = `usage: cogen select RANKING.json --domain D [--top N] [--json]

Pick the best model(s) for a domain from a ranking written by 'cogen rank --json-out FILE'.
  --domain D   a domain of the ranking, or "${OVERALL}"
  --top N      how many models (default 1)
  --json       print JSON`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    domain: { type: "string" },
    top: { type: "string", default: "1" },
    json: { type: "boolean", default: false },
  }, HELP);
  const problems: string[] = [];
  if (positionals.length !== 1) problems.push("give exactly one ranking file (from 'cogen rank --json-out FILE')");
  if (values.domain === undefined) problems.push(`--domain is required (a domain of the ranking, or "${OVERALL}")`);
  const top = integerFlag(values.top, "--top", problems, 1)!;
  if (problems.length > 0) throw new UsageError(problems);

  const ranking = await readRanking(positionals[0]);
  const experts = selectExperts(ranking, values.domain!, { top });
  if (values.json) {
    printJson({ domain: values.domain, experts });
    return 0;
  }
  const value = ranking.scale === "arena" ? (x: number) => x.toFixed(1) : (x: number) => x.toFixed(3);
  console.log(formatTable(
    ["model", ranking.scale === "arena" ? "rating" : "ability", "95% interval", "P(best)"],
    experts.map((e) => [e.model, value(e.ability), `[${value(e.ci[0])}, ${value(e.ci[1])}]`, e.probabilityBest.toFixed(3)]),
    ["l", "r", "l", "r"],
  ));
  return 0;
}
