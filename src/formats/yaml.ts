/**
 * The YAML files cogen reads (merge configs, models files, serve configs), parsed one way: one
 * document, duplicate keys refused, and every syntax error reported at once with its line and
 * column (from the yaml library's positions) as a ConfigError naming the file.
 */
import { LineCounter, isMap, isScalar, parseAllDocuments, parseDocument, type Document, type Node } from "yaml";
import { ConfigError } from "../core/errors.js";

export interface YamlFile {
  doc: Document.Parsed;
  /** "line N: a.b[0]" for a path into the document ("a.b[0]" when the node has no position). */
  locate(path: readonly (string | number)[]): string;
}

/** `what` names the file's kind in messages ("a merge config"). */
export function parseYamlFile(text: string, source: string, what: string): YamlFile {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const problems = doc.errors.map((error) => {
    const { line, col } = lines.linePos(error.pos[0]);
    if (error.code === "MULTIPLE_DOCS") return `line ${line}: a second YAML document starts here; ${what} is a single document (remove the '---' separator or split the file)`;
    return `line ${line}, column ${col}: ${error.message.split("\n")[0]}`;
  });
  if (problems.length) throw new ConfigError(problems, source);
  return { doc, locate: locator(doc, lines) };
}

/**
 * A file of several YAML documents separated by `---` (mergekit-multi), each with a locator whose
 * line numbers count from the top of the file. Syntax errors of every document are reported at once.
 */
export function parseYamlDocuments(text: string, source: string): YamlFile[] {
  const lines = new LineCounter();
  const parsed: unknown = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  // An empty stream comes back as an EmptyStream (not an array): no documents.
  const docs = Array.isArray(parsed) ? (parsed as Document.Parsed[]) : [];
  const errors = docs.flatMap((d) => d.errors);
  const problems = errors.map((error) => {
    const { line, col } = lines.linePos(error.pos[0]);
    return `line ${line}, column ${col}: ${error.message.split("\n")[0]}`;
  });
  if (problems.length) throw new ConfigError(problems, source);
  return docs.map((doc) => ({ doc, locate: locator(doc, lines) }));
}

function locator(doc: Document.Parsed, lines: LineCounter): YamlFile["locate"] {
  return (path: readonly (string | number)[]): string => {
    // A mapping entry is located by its key (the value may start on a later line).
    const parent = path.length > 0 ? doc.getIn(path.slice(0, -1), true) : undefined;
    const pair = isMap(parent) ? parent.items.find((p) => isScalar(p.key) && p.key.value === path[path.length - 1]) : undefined;
    const node = (isScalar(pair?.key) ? pair.key : doc.getIn(path, true)) as Node | undefined;
    const field = path.map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`)).join("").replace(/^\./, "");
    const start = node?.range?.[0];
    return start === undefined ? field : `line ${lines.linePos(start).line}: ${field}`;
  };
}
