// Child process for bench/hub-scale.ts: a gateway serving one composition through a
// LiveComposition that loads experts on use under a model cap; asks each given expert once, then
// prints its own memory (RSS now and peak) and the most models loaded at once, as one JSON line.
import { promises as fs } from "node:fs";
import { startGateway } from "../src/serve/gateway.js";
import { LiveComposition } from "../src/serve/live.js";
import { parseUnifiedConfig } from "../src/serve/unified-config.js";

const [file, cap, ids] = process.argv.slice(2);
const live = new LiveComposition({ loadOnUse: true, maxLoadedModels: Number(cap) });
await live.publish(parseUnifiedConfig(await fs.readFile(file, "utf8"), file), "v1");
const gateway = await startGateway({ models: live, host: "127.0.0.1", port: 0 });
const servedRss = process.memoryUsage().rss;
let maxLoaded = 0;
for (const id of ids.split(",")) {
  const response = await fetch(`${gateway.url}/v1/completions`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: id, prompt: "The patient was given", max_tokens: 4, temperature: 0 }),
  });
  if (!response.ok) throw new Error(`${id}: HTTP ${response.status} ${await response.text()}`);
  maxLoaded = Math.max(maxLoaded, live.status().loadedModels);
}
const rss = process.memoryUsage().rss;
await gateway.close();
await live.close();
process.stdout.write(JSON.stringify({ servedRss, rss, maxRss: process.resourceUsage().maxRSS * 1024, maxLoaded }) + "\n");
