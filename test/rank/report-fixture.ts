/** A small per-item Ranking for the report tests: one domain, a warning, and one wild item. */
import type { ItemReport, Ranking } from "../../src/rank/ranking.js";

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
