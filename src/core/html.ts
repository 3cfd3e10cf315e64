import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";

/** Helpers for cogen's self-contained HTML reports (no network needed to open them). */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}

/** plotly.js, to be inlined into a page. */
export async function readPlotly(): Promise<string> {
  return readFile(createRequire(import.meta.url).resolve("plotly.js-dist-min/plotly.min.js"), "utf8");
}

/** A <script> element holding `code`, safe against a closing tag inside it. */
export function inlineScript(code: string): string {
  return `<script>${code.replace(/<\/script/gi, "<\\/script")}</script>`;
}

/** JSON for embedding inside a <script> element. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, "\\u003c");
}
