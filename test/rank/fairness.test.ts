/**
 * Resistance to benchmark bias, on real data (ChemBench × 22 models — the committed excerpt of every
 * fifth item, or all 2,854 items where the reference data is present — split into four
 * pseudo-domains of very different sizes) and on a simulation with specialised models: the cogen
 * ranking must not move when a domain's items are duplicated or when items everyone gets right
 * (or wrong) are added, and must barely move when a random tenth of the items is dropped. The plain
 * pooled average is run through the same duplication and is shown to move.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { ItemResult } from "../../src/core/evidence.js";
import { Rng } from "../../src/core/rng.js";
import { parseResultsCsv } from "../../src/formats/results.js";
import { rankResults } from "../../src/rank/per-item.js";
import { fixtureFile, referenceFile } from "../reference-data.js";
import { kendallTau, simulate } from "./simulate.js";

const CHEMBENCH = fixtureFile("chembench", "binary_matrix-every-5th-item.csv");
// Stability under dropped items needs the whole matrix (on a fifth of it, a tenth is too few items per domain).
const CHEMBENCH_FULL = referenceFile("chembench", "binary_matrix.csv");

function chembench(file = CHEMBENCH): ItemResult[] {
  const raw = parseResultsCsv(readFileSync(file, "utf8"), file);
  // Contiguous blocks of 150, 450, 1000 and 1254 items of the original numbering (30, 90, 200 and 251 in the excerpt).
  const domain = (item: string) => {
    const k = Number(item);
    return k < 150 ? "A" : k < 600 ? "B" : k < 1600 ? "C" : "D";
  };
  return raw.map((r) => ({ ...r, domain: domain(r.item) }));
}

function cogenScores(results: ItemResult[], models: string[]): number[] {
  const ranking = rankResults(results).ranking;
  return models.map((m) => ranking.models.find((x) => x.model === m)!.rating);
}

function pooledAverage(results: ItemResult[], models: string[]): number[] {
  const sums = new Map<string, [number, number]>();
  for (const r of results) {
    const s = sums.get(r.model) ?? [0, 0];
    s[0] += r.score;
    s[1]++;
    sums.set(r.model, s);
  }
  return models.map((m) => sums.get(m)![0] / sums.get(m)![1]);
}

function duplicateDomain(results: ItemResult[], domain: string): ItemResult[] {
  return [...results, ...results.filter((r) => r.domain === domain).map((r) => ({ ...r, item: `${r.item}#copy` }))];
}

function maxDifference(x: number[], y: number[]): number {
  return Math.max(...x.map((v, i) => Math.abs(v - y[i])));
}

describe("domain-fair ranking on ChemBench pseudo-domains", () => {
  const results = chembench();
  const models = [...new Set(results.map((r) => r.model))].sort();
  const base = cogenScores(results, models);
  const basePooled = pooledAverage(results, models);

  it("keeps the order when one domain's items are duplicated, where the pooled average changes it", () => {
    for (const domain of ["A", "C"]) {
      const doubled = duplicateDomain(results, domain);
      const cogen = cogenScores(doubled, models);
      expect(kendallTau(base, cogen)).toBe(1);
      expect(maxDifference(base, cogen)).toBeLessThan(1e-4);
      expect(kendallTau(basePooled, pooledAverage(doubled, models))).toBeLessThan(1);
    }
  });

  it("keeps the order when many items every model gets right, or wrong, are added", () => {
    const extra: ItemResult[] = [];
    for (let k = 0; k < 500; k++) {
      for (const model of models) {
        extra.push({ model, item: `easy-${k}`, domain: "A", score: 1 });
        extra.push({ model, item: `hard-${k}`, domain: "B", score: 0 });
      }
    }
    const padded = cogenScores([...results, ...extra], models);
    expect(kendallTau(base, padded)).toBe(1);
    expect(maxDifference(base, padded)).toBeLessThan(1e-6);
  });

  it.skipIf(!CHEMBENCH_FULL.available)(`keeps Kendall τ ≥ 0.9 when a random 10% of the 2,854 items is dropped${CHEMBENCH_FULL.skipNote}`, () => {
    const results = chembench(CHEMBENCH_FULL.path);
    const base = cogenScores(results, models);
    const items = [...new Set(results.map((r) => r.item))];
    for (const seed of [1, 2, 3]) {
      const rng = new Rng(seed);
      const dropped = new Set(rng.shuffle([...items]).slice(0, Math.round(items.length * 0.1)));
      const kept = results.filter((r) => !dropped.has(r.item));
      expect(kendallTau(base, cogenScores(kept, models))).toBeGreaterThanOrEqual(0.9);
    }
  });
});

describe("domain-fair ranking on simulated specialists", () => {
  // Four domains of 20, 100, 500 and 3,000 items; each model's ability differs by domain.
  const sim = simulate({ models: 16, domainSizes: [20, 100, 500, 3000], seed: 11, specialisation: 0.6, missing: 0.1 });
  const models = [...sim.models].sort();
  const base = cogenScores(sim.results, models);
  const basePooled = pooledAverage(sim.results, models);

  it("weighs every domain equally: duplicating the largest domain changes nothing, unlike the pooled average", () => {
    const doubled = duplicateDomain(sim.results, "domain-3");
    const cogen = cogenScores(doubled, models);
    expect(kendallTau(base, cogen)).toBe(1);
    expect(maxDifference(base, cogen)).toBeLessThan(1e-4);
    expect(kendallTau(basePooled, pooledAverage(doubled, models))).toBeLessThan(1);
  });

  it("gives each domain its own ability and an overall that is their mean", () => {
    const ranking = rankResults(sim.results).ranking;
    expect(ranking.domains).toHaveLength(4);
    for (const model of ranking.models) {
      const abilities = Object.values(model.domains).map((d) => d.ability);
      expect(abilities).toHaveLength(4);
      expect(model.rating).toBeCloseTo(abilities.reduce((s, x) => s + x, 0) / 4, 10);
      expect(model.ci[0]).toBeLessThan(model.rating);
      expect(model.ci[1]).toBeGreaterThan(model.rating);
      expect(model.rankRange[0]).toBe(model.rank);
      expect(model.rankRange[1]).toBeGreaterThanOrEqual(model.rank);
    }
  });
});
