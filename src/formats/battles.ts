/**
 * Pairwise battle files: one vote per row, read into `Comparison`s.
 *
 * Two layouts, recognised by their column (or key) names, in CSV or JSON Lines:
 * - Chatbot Arena: `model_a, model_b, winner`, winner one of `model_a | model_b | tie | both_bad`
 *   (Arena's older spelling `tie (bothbad)` is read as `both_bad`).
 * - llmfao: `left, right, winner` (left and right are model names), winner one of
 *   `left | right | tie`.
 * Other columns (Arena's category flags, ids, prompts) are ignored unless `domainColumn` names
 * one, whose value then becomes each comparison's domain.
 */
import { promises as fs } from "node:fs";
import { InputFileError } from "../core/errors.js";
import { readFailure } from "../core/files.js";
import { forEachJsonlObject } from "./jsonl.js";
import { DEFAULT_DOMAIN, type Comparison, type ComparisonOutcome } from "../core/evidence.js";
import { CsvFieldInterner, csvFieldText, forEachCsvSpans } from "./csv-bytes.js";

export type BattleLayout = "arena" | "llmfao";

/** The column names of each layout: the two models and the winner. */
export const BATTLE_LAYOUTS: Record<BattleLayout, { a: string; b: string; winner: string; outcomes: Record<string, ComparisonOutcome> }> = {
  arena: {
    a: "model_a",
    b: "model_b",
    winner: "winner",
    outcomes: { model_a: "a", model_b: "b", tie: "tie", both_bad: "both_bad", "tie (bothbad)": "both_bad" },
  },
  llmfao: {
    a: "left",
    b: "right",
    winner: "winner",
    outcomes: { left: "a", right: "b", tie: "tie" },
  },
};

export interface ReadBattlesOptions {
  /** A column (CSV) or key (JSONL) whose value becomes each comparison's domain. */
  domainColumn?: string;
  /**
   * What to do with a row that compares a model with itself: "error" (the default) or "skip"
   * (drop it with a warning; Arena's own fit ignores such rows, and its published data has a few).
   */
  selfComparisons?: "error" | "skip";
}

/** Parsed battles: `comparisons[k]` was read from line `lines[k]` of `file`. */
export interface Battles {
  file: string;
  layout: BattleLayout;
  comparisons: Comparison[];
  lines: number[];
  /** Rows dropped (self-comparisons when skipped), said in words. */
  warnings: string[];
}

/** Read a battle file (CSV or JSON Lines, detected from its first character). */
export async function readBattles(file: string, options: ReadBattlesOptions = {}): Promise<Battles> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(file);
  } catch (error) {
    throw readFailure(file, error);
  }
  // CSV is read from the bytes (only the model and winner fields become strings); JSONL as text.
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  while (i < bytes.length && isAsciiSpace(bytes[i])) i++;
  if (i === bytes.length) throw new InputFileError(file, "empty battle file");
  return bytes[i] === 0x7b /* { */ ? parseBattlesJsonl(bytes.toString("utf8"), file, options) : parseBattlesCsvBytes(bytes, file, options);
}

function isAsciiSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** Parse battle text; `file` names it in error messages. */
export function parseBattles(text: string, file: string, options: ReadBattlesOptions = {}): Battles {
  // Look at the first meaningful character without copying the (possibly huge) text.
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  while (i < text.length && /\s/.test(text[i])) i++;
  if (i === text.length) throw new InputFileError(file, "empty battle file");
  return text[i] === "{" ? parseBattlesJsonl(text, file, options) : parseBattlesCsv(text, file, options);
}

/** Which layout a set of column names is, or an error listing what was expected. */
export function detectBattleLayout(columns: readonly string[], file: string, line?: number): BattleLayout {
  const has = (name: string) => columns.includes(name);
  for (const layout of Object.keys(BATTLE_LAYOUTS) as BattleLayout[]) {
    const spec = BATTLE_LAYOUTS[layout];
    if (has(spec.a) && has(spec.b) && has(spec.winner)) return layout;
  }
  throw new InputFileError(
    file,
    `not a battle file: expected columns "model_a, model_b, winner" (Arena) or "left, right, winner" (llmfao); found ${columns.join(", ") || "none"}`,
    line,
  );
}

export function parseBattlesCsv(text: string, file: string, options: ReadBattlesOptions = {}): Battles {
  return parseBattlesCsvBytes(Buffer.from(text, "utf8"), file, options);
}

/** parseBattlesCsv on the file's UTF-8 bytes. */
function parseBattlesCsvBytes(bytes: Uint8Array, file: string, options: ReadBattlesOptions): Battles {
  let header: string[] | undefined;
  let layout: BattleLayout = "arena";
  let ia = -1;
  let ib = -1;
  let iw = -1;
  let id = -1;
  const comparisons: Comparison[] = [];
  const lines: number[] = [];
  const skipped: number[] = [];
  // Each distinct name, winner and domain is decoded once; other fields never become strings.
  const names = new CsvFieldInterner(bytes, (text) => text.trim());
  const outcomes = new CsvFieldInterner(bytes, (text) => outcomeOf(layout, text));
  const domains = new CsvFieldInterner(bytes, (text) => text.trim() || DEFAULT_DOMAIN);
  forEachCsvSpans(bytes, file, (spans, line) => {
    if (header === undefined) {
      header = Array.from({ length: spans.count }, (_, k) => csvFieldText(bytes, spans, k).trim());
      layout = detectBattleLayout(header, file, line);
      const spec = BATTLE_LAYOUTS[layout];
      ia = header.indexOf(spec.a);
      ib = header.indexOf(spec.b);
      iw = header.indexOf(spec.winner);
      if (options.domainColumn !== undefined) {
        id = header.indexOf(options.domainColumn);
        if (id < 0) throw new InputFileError(file, `no column "${options.domainColumn}" for the domain; header has ${header.join(", ")}`, line);
      }
      return;
    }
    if (spans.count !== header.length) {
      throw new InputFileError(file, `expected ${header.length} fields (as in the header), found ${spans.count}`, line);
    }
    const a = names.get(spans, ia);
    const b = names.get(spans, ib);
    const outcome = outcomes.get(spans, iw);
    const rawWinner = outcome === undefined ? csvFieldText(bytes, spans, iw) : "";
    const keep = checkComparison(layout, a, b, outcome, rawWinner, file, line, options);
    if (!keep) skipped.push(line);
    else {
      const comparison: Comparison = { a, b, outcome: outcome! };
      if (id >= 0) comparison.domain = domains.get(spans, id);
      comparisons.push(comparison);
      lines.push(line);
    }
  });
  if (header === undefined) throw new InputFileError(file, "empty CSV file (expected a header row)");
  if (comparisons.length === 0 && skipped.length === 0) throw new InputFileError(file, "no battles after the header");
  if (comparisons.length === 0) throw new InputFileError(file, "no battles left after skipping self-comparisons");
  return { file, layout, comparisons, lines, warnings: skipWarnings(file, skipped) };
}

export function parseBattlesJsonl(text: string, file: string, options: ReadBattlesOptions = {}): Battles {
  const comparisons: Comparison[] = [];
  const lines: number[] = [];
  let layout: BattleLayout | undefined;
  const skipped: number[] = [];
  forEachJsonlObject(text, file, "per line (one vote)", (record, line) => {
    layout ??= detectBattleLayout(Object.keys(record), file, line);
    const spec = BATTLE_LAYOUTS[layout];
    const field = (key: string): string => {
      const v = record[key];
      if (typeof v !== "string") {
        throw new InputFileError(file, v === undefined ? `missing key "${key}"` : `"${key}" must be a string, found ${JSON.stringify(v)}`, line);
      }
      return v;
    };
    let domain: string | undefined;
    if (options.domainColumn !== undefined) {
      const v = record[options.domainColumn];
      if (v === undefined || v === null) domain = "";
      else if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") domain = String(v);
      else throw new InputFileError(file, `"${options.domainColumn}" must be a string, number or boolean`, line);
    }
    const a = field(spec.a).trim();
    const b = field(spec.b).trim();
    const rawWinner = field(spec.winner);
    const outcome = outcomeOf(layout, rawWinner);
    if (!checkComparison(layout, a, b, outcome, rawWinner, file, line, options)) {
      skipped.push(line);
      return;
    }
    const comparison: Comparison = { a, b, outcome: outcome! };
    if (domain !== undefined) comparison.domain = domain.trim() || DEFAULT_DOMAIN;
    comparisons.push(comparison);
    lines.push(line);
  });
  if (layout === undefined || comparisons.length === 0) throw new InputFileError(file, "no battles in the file");
  return { file, layout, comparisons, lines, warnings: skipWarnings(file, skipped) };
}

function skipWarnings(file: string, skipped: number[]): string[] {
  if (skipped.length === 0) return [];
  const shown = skipped.slice(0, 10).join(", ") + (skipped.length > 10 ? ", ..." : "");
  return [`${file}: skipped ${skipped.length} row(s) comparing a model with itself (lines ${shown})`];
}

/** The outcome a winner field names in a layout, or undefined when it names none. */
function outcomeOf(layout: BattleLayout, rawWinner: string): ComparisonOutcome | undefined {
  const outcomes = BATTLE_LAYOUTS[layout].outcomes;
  const winner = rawWinner.trim();
  return Object.hasOwn(outcomes, winner) ? outcomes[winner] : undefined;
}

/**
 * Whether a row (names already trimmed) is kept: false for a self-comparison to be skipped; an
 * InputFileError naming the file, line and field for an empty name, an unknown winner or a
 * self-comparison that is not to be skipped.
 */
function checkComparison(
  layout: BattleLayout,
  a: string,
  b: string,
  outcome: ComparisonOutcome | undefined,
  /** The winner field as written (needed only when `outcome` is undefined). */
  rawWinner: string,
  file: string,
  line: number,
  options: ReadBattlesOptions,
): boolean {
  const spec = BATTLE_LAYOUTS[layout];
  if (a === "") throw new InputFileError(file, `empty model name in "${spec.a}"`, line);
  if (b === "") throw new InputFileError(file, `empty model name in "${spec.b}"`, line);
  if (outcome === undefined) {
    throw new InputFileError(file, `unknown winner ${JSON.stringify(rawWinner)} in "${spec.winner}"; expected one of ${Object.keys(spec.outcomes).join(", ")}`, line);
  }
  if (a === b) {
    if (options.selfComparisons === "skip") return false;
    throw new InputFileError(file, `model "${a}" is compared with itself (skip such rows with selfComparisons: "skip")`, line);
  }
  return true;
}
