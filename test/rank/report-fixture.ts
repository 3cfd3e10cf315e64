/**
 * Rankings for the report tests: `singleDomainRanking` is per-item over one domain with a warning
 * and one wild item; `votesRanking` is from pairwise votes (Arena scale, no items) over three
 * domains, with long model names.
 */
import type { ItemReport, Ranking } from "../../src/rank/ranking.js";

export function votesRanking(): Ranking {
  const domains = ["law", "medicine", "chemistry"];
  const models = Array.from({ length: 12 }, (_, i) => ({
    model: `example-org/Mistral-7B-Instruct-v0.3-expert-${i}-Q4_K_M`, rating: 1100 - 15 * i, ci: [1080 - 15 * i, 1120 - 15 * i] as [number, number],
    rank: i + 1, rankRange: [Math.max(1, i), i + 2] as [number, number],
    domains: Object.fromEntries(domains.map((d, j) => [d, { ability: 1000 + 40 * Math.sin(i + j), ci: [960, 1040] as [number, number] }])),
  }));
  return { kind: "pairwise", scale: "arena", method: "Bradley-Terry from votes", domains, models, items: [], warnings: [] } as unknown as Ranking;
}

export function singleDomainRanking(): Ranking {
  const models = ["alpha", "beta", "gamma", "delta"].map((model, i) => ({
    model, rating: 1 - i * 0.5, ci: [0.8 - i * 0.5, 1.2 - i * 0.5] as [number, number], rank: i + 1, rankRange: [i + 1, i + 1] as [number, number],
    domains: { chemistry: { ability: 1 - i * 0.5, ci: [0.8 - i * 0.5, 1.2 - i * 0.5] as [number, number] } },
  }));
  const items: ItemReport[] = Array.from({ length: 60 }, (_, k) => ({
    item: `q${k}`, domain: "chemistry", difficulty: ((k % 13) - 6) / 3, discrimination: 0.5 + (k % 7) / 5,
    information: 0.2, meanScore: 0.5, responses: 4, flags: [],
  }));
  // A near-zero discrimination lets the difficulty run away, as ChemBench's item 1043 does (−1361).
  items.push({ item: "wild", domain: "chemistry", difficulty: -1361, discrimination: -0.001, information: 0, meanScore: 0.14, responses: 4, flags: ["low_discrimination"] });
  items.push({ item: "key?", domain: "chemistry", difficulty: 0.1, discrimination: -1.3, information: 0.1, meanScore: 0.5, responses: 4, flags: ["negative_discrimination"] });
  return {
    kind: "per-item", scale: "logit", method: "2PL IRT per domain", domains: ["chemistry"], models, items,
    warnings: ['domain "chemistry": the IRT abilities disagree with plain mean scores <check> (cogen rank --discrimination-sd 0.5)'],
  } as Ranking;
}
