// Child process for bench/convert-memory.ts: one conversion, then its own peak memory.
import { convertHfToGguf, type ConvertDType } from "../src/formats/convert/hf-to-gguf.js";
import { convertGgufToHf } from "../src/formats/convert/gguf-to-hf.js";

const [mode, src, dst, dtype] = process.argv.slice(2);
const started = performance.now();
if (mode === "hf-to-gguf") await convertHfToGguf(src, dst, { dtype: (dtype || undefined) as ConvertDType | undefined });
else if (mode === "gguf-to-hf") await convertGgufToHf(src, dst, {});
else if (mode !== "idle") throw new Error(`unknown mode ${mode}`);
const seconds = (performance.now() - started) / 1000;
process.stdout.write(JSON.stringify({ seconds, maxRssBytes: process.resourceUsage().maxRSS * 1024 }) + "\n");
