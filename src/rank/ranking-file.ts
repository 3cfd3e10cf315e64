import { InputFileError } from "../core/errors.js";
import { readJsonFile } from "../core/json-file.js";
import type { Ranking } from "./ranking.js";

/** Read and check a ranking JSON file (the fields selection relies on). */
export async function readRanking(file: string): Promise<Ranking> {
  const json = await readJsonFile(file, "write a ranking with 'cogen rank --json-out FILE'");
  const r = json as Partial<Ranking>;
  if (typeof r !== "object" || r === null || !Array.isArray(r.models) || !Array.isArray(r.domains)) {
    throw new InputFileError(file, "not a ranking: expected an object with \"models\" and \"domains\" (write one with 'cogen rank --json-out FILE')");
  }
  r.models.forEach((m, k) => {
    const ok = typeof m?.model === "string" && typeof m.rating === "number" && Array.isArray(m.ci) && m.ci.length === 2 &&
      typeof m.domains === "object" && m.domains !== null;
    if (!ok) throw new InputFileError(file, `models[${k}] needs "model", "rating", "ci" [lo, hi] and "domains"`);
  });
  return r as Ranking;
}
