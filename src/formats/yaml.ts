/**
 * The YAML files cogen reads (merge configs, models files, serve configs), parsed one way: one
 * document, duplicate keys refused, and every syntax error reported at once with its line and
 * column (from the yaml library's positions) as a ConfigError naming the file.
 */
import { LineCounter, isMap, isScalar, parseDocument, type Document, type Node } from "yaml";
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
  const locate = (path: readonly (string | number)[]): string => {
    // A mapping entry is located by its key (the value may start on a later line).
    const parent = path.length > 0 ? doc.getIn(path.slice(0, -1), true) : undefined;
    const pair = isMap(parent) ? parent.items.find((p) => isScalar(p.key) && p.key.value === path[path.length - 1]) : undefined;
    const node = (isScalar(pair?.key) ? pair.key : doc.getIn(path, true)) as Node | undefined;
    const field = path.map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`)).join("").replace(/^\./, "");
    const start = node?.range?.[0];
    return start === undefined ? field : `line ${lines.linePos(start).line}: ${field}`;
  };
  return { doc, locate };
}
