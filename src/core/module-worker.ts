import { Worker } from "node:worker_threads";

/**
 * A worker thread running the module at `relative`, a path relative to `importerUrl` (the caller's
 * import.meta.url) without extension: the compiled .js, or under tsx (tests, `npx tsx`) the .ts,
 * with tsx's loader registered in the worker before the import.
 */
export function startModuleWorker(importerUrl: string, relative: string): Worker {
  const fromTs = importerUrl.endsWith(".ts");
  const url = new URL(`${relative}${fromTs ? ".ts" : ".js"}`, importerUrl);
  if (!fromTs) return new Worker(url);
  const tsx = JSON.stringify(import.meta.resolve("tsx/esm/api"));
  return new Worker(`import(${tsx}).then((api) => { api.register(); return import(${JSON.stringify(url.href)}); });`, { eval: true });
}
