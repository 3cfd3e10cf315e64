import { execFile } from "node:child_process";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkLlamaCppRequirements } from "../../../src/formats/gguf/llama-check.js";
import { openGguf } from "../../../src/formats/gguf/reader.js";
import { tempDir } from "./helpers.js";
import { tinyLlama, writeTinyLlama } from "./tiny-llama.js";

const child = path.join(path.dirname(fileURLToPath(import.meta.url)), "llamacpp-load.child.mjs");

function loadInLlamaCpp(file: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [child, file], { timeout: 90_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : null) : 0;
      resolve({ code, output: stdout + stderr });
    });
  });
}

let dir = "";
let cleanup: () => Promise<void> = async () => {};
beforeAll(async () => ({ dir, cleanup } = await tempDir()));
afterAll(() => cleanup());

describe("files written by writeGguf in the real llama.cpp (node-llama-cpp, CPU)", () => {
  it("a tiny llama passing the check loads and evaluates; one the check rejects aborts llama.cpp", async () => {
    const good = path.join(dir, "good.gguf");
    await writeTinyLlama(good, tinyLlama());
    const bad = path.join(dir, "no-ff.gguf");
    const model = tinyLlama();
    model.metadata.delete("llama.feed_forward_length");
    await writeTinyLlama(bad, model);

    const g = await openGguf(bad);
    expect(checkLlamaCppRequirements(g)).toEqual(["missing metadata key 'llama.feed_forward_length'"]);
    await g.close();

    const [ok, crashed] = await Promise.all([loadInLlamaCpp(good), loadInLlamaCpp(bad)]);
    expect(ok.output).toContain("LOADED OK 3");
    expect(ok.code).toBe(0);
    // The bad file takes the whole process down (GGML_ASSERT → abort), which is why the check exists.
    expect(crashed.code).not.toBe(0);
    expect(crashed.output).not.toContain("LOADED OK");
  }, 120_000);
});
