import type { ResultRecord } from "../eval/result.js";

/**
 * The main job's table: for every model and domain, held-out bits per byte (byte-weighted over the
 * bits-per-byte items; lower is better) and accuracy with its standard error — the share of
 * multiple-choice and exact-match items answered right, both 0/1 per item, so a task file of
 * generation items has a table too — plus macro averages that weigh every domain equally.
 */
export interface Cell {
  /** Σ bits / Σ bytes over the domain's bits-per-byte items. */
  bpb?: number;
  bpbItems: number;
  /** Mean accuracy over the domain's multiple-choice and exact-match items. */
  acc?: number;
  accSe?: number;
  accItems: number;
}

export interface ScoreRow {
  model: string;
  domains: Record<string, Cell>;
  macroBpb?: number;
  macroAcc?: number;
  macroAccSe?: number;
}

export function scoreRows(records: readonly ResultRecord[], domains: readonly string[], order: readonly string[]): ScoreRow[] {
  const byModel = new Map<string, ResultRecord[]>();
  for (const r of records) (byModel.get(r.model) ?? byModel.set(r.model, []).get(r.model)!).push(r);
  return order.filter((m) => byModel.has(m)).map((model) => rowOf(model, byModel.get(model)!, domains));
}

export function rowOf(model: string, records: readonly ResultRecord[], domains: readonly string[]): ScoreRow {
  const cells: Record<string, Cell> = {};
  for (const domain of domains) {
    const inDomain = records.filter((r) => r.domain === domain);
    const bpb = inDomain.filter((r) => r.metric === "bpb");
    const mc = inDomain.filter((r) => r.metric === "acc" || r.metric === "exact_match");
    const bits = bpb.reduce((s, r) => s + (r.bpb ?? 0) * (r.bytes ?? 0), 0);
    const bytes = bpb.reduce((s, r) => s + (r.bytes ?? 0), 0);
    const acc = mc.length ? mc.reduce((s, r) => s + r.score, 0) / mc.length : undefined;
    cells[domain] = {
      bpb: bytes > 0 ? bits / bytes : undefined,
      bpbItems: bpb.length,
      acc,
      accSe: acc !== undefined ? Math.sqrt((acc * (1 - acc)) / mc.length) : undefined,
      accItems: mc.length,
    };
  }
  return { model, domains: cells, ...macro(cells) };
}

/** Macro averages over domains (every domain equal); the SE combines the domains' SEs. */
export function macro(cells: Record<string, Cell>): Pick<ScoreRow, "macroBpb" | "macroAcc" | "macroAccSe"> {
  const values = Object.values(cells);
  const bpbs = values.map((c) => c.bpb).filter((v): v is number => v !== undefined);
  const accs = values.filter((c) => c.acc !== undefined);
  return {
    macroBpb: bpbs.length === values.length && bpbs.length > 0 ? bpbs.reduce((a, b) => a + b, 0) / bpbs.length : undefined,
    macroAcc: accs.length === values.length && accs.length > 0 ? accs.reduce((a, c) => a + c.acc!, 0) / accs.length : undefined,
    macroAccSe: accs.length === values.length && accs.length > 0 ? Math.sqrt(accs.reduce((a, c) => a + c.accSe! ** 2, 0)) / accs.length : undefined,
  };
}

/**
 * The per-domain oracle: in each domain, the single model that did best there (lowest bits per
 * byte; highest accuracy), as if a perfect router knew every request's domain. The ceiling.
 */
export function oracleRow(rows: readonly ScoreRow[], domains: readonly string[]): ScoreRow & { picks: Record<string, { bpb?: string; acc?: string }> } {
  const cells: Record<string, Cell> = {};
  const picks: Record<string, { bpb?: string; acc?: string }> = {};
  for (const d of domains) {
    const withBpb = rows.filter((r) => r.domains[d]?.bpb !== undefined);
    const withAcc = rows.filter((r) => r.domains[d]?.acc !== undefined);
    const bestBpb = withBpb.sort((a, b) => a.domains[d].bpb! - b.domains[d].bpb!)[0];
    const bestAcc = withAcc.sort((a, b) => b.domains[d].acc! - a.domains[d].acc!)[0];
    cells[d] = {
      bpb: bestBpb?.domains[d].bpb, bpbItems: bestBpb?.domains[d].bpbItems ?? 0,
      acc: bestAcc?.domains[d].acc, accSe: bestAcc?.domains[d].accSe, accItems: bestAcc?.domains[d].accItems ?? 0,
    };
    picks[d] = { bpb: bestBpb?.model, acc: bestAcc?.model };
  }
  return { model: "oracle (best single model per domain)", domains: cells, ...macro(cells), picks };
}

/**
 * The test items every model has a result for: the table compares models on the same items
 * only (a model without a result on a long passage would otherwise be judged on an easier set).
 * The rest are listed with the models that lack them.
 */
export function commonItems(records: readonly ResultRecord[], models: readonly string[], items: readonly string[]): { judged: Set<string>; unjudged: { item: string; missing: string[] }[] } {
  const has = new Set(records.map((r) => `${r.model}\u0000${r.item}`));
  const judged = new Set<string>();
  const unjudged: { item: string; missing: string[] }[] = [];
  for (const item of items) {
    const missing = models.filter((m) => !has.has(`${m}\u0000${item}`));
    if (missing.length) unjudged.push({ item, missing });
    else judged.add(item);
  }
  return { judged, unjudged };
}

/** "judged on 22 of 24 test items: 2 lack a result from some model (item: models; …)", for the log and the table. */
export function describeUnjudged(unjudged: readonly { item: string; missing: string[] }[], tested: number): string {
  const shown = unjudged.slice(0, 3).map((u) => `${u.item}: ${u.missing.join(", ")}`).join("; ");
  return `judged on ${tested - unjudged.length} of ${tested} test items: ${unjudged.length} lack a result from some model (${shown}${unjudged.length > 3 ? "; …" : ""})`;
}
