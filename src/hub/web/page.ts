/**
 * The hub's web page: plain HTML, CSS and one ES module (src/hub/web/assets), with plotly.js
 * served from the installed plotly.js-dist-min package — no build step, nothing fetched from the
 * network. The page reads the contributor API's JSON (src/hub/api-types.ts) and streams its
 * playground from the gateway's /v1/chat/completions (HubStatus.gateway, or this origin's /v1).
 */
import { existsSync, promises as fs } from "node:fs";
import { createRequire } from "node:module";
import * as path from "node:path";
import type { FastifyInstance } from "fastify";

export interface HubPageOptions {
  /** Where the page is served (default "/hub"). */
  prefix?: string;
  /** Where the page finds the API's GET endpoints (default "/api"). */
  apiBase?: string;
}

const ASSET_TYPES: Record<string, string> = {
  "app.js": "text/javascript; charset=utf-8",
  "style.css": "text/css; charset=utf-8",
};

/** The assets folder, from src/ (tsx) or from the compiled dist/src/. */
function assetsDir(): string {
  const here = import.meta.dirname;
  const beside = path.join(here, "assets");
  return existsSync(beside) ? beside : path.resolve(here, "../../../../src/hub/web/assets");
}

export async function registerHubPage(app: FastifyInstance, options: HubPageOptions = {}): Promise<void> {
  const prefix = (options.prefix ?? "/hub").replace(/\/$/, "");
  const apiBase = options.apiBase ?? "/api";
  const dir = assetsDir();
  const html = (await fs.readFile(path.join(dir, "index.html"), "utf8")).replace("{{API}}", escapeAttribute(apiBase));
  const assets = new Map<string, string>();
  for (const name of Object.keys(ASSET_TYPES)) assets.set(name, await fs.readFile(path.join(dir, name), "utf8"));
  const plotly = await fs.readFile(createRequire(import.meta.url).resolve("plotly.js-dist-min/plotly.min.js"), "utf8");

  const security = { "x-content-type-options": "nosniff", "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src *" };
  app.get(prefix, async (_request, reply) => reply.redirect(`${prefix}/`));
  app.get(`${prefix}/`, async (_request, reply) => reply.headers(security).type("text/html; charset=utf-8").send(html));
  app.get(`${prefix}/plotly.min.js`, async (_request, reply) =>
    reply.headers({ ...security, "cache-control": "public, max-age=86400" }).type("text/javascript; charset=utf-8").send(plotly));
  for (const [name, text] of assets) {
    app.get(`${prefix}/${name}`, async (_request, reply) => reply.headers(security).type(ASSET_TYPES[name]).send(text));
  }
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
