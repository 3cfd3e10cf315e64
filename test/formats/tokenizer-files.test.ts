/** tokenizer_config.json is optional; present but unreadable or corrupt is an error, never `{}`. */
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InputFileError } from "../../src/core/errors.js";
import { readVocab } from "../../src/formats/hf/tokenizer.js";
import { readBpeTokenizer } from "../../src/zoo/train/tokenize.js";
import { makeTinyLlama, tempDir, type TinyLlama } from "../fixtures/tiny-llama.js";

let root: string;
let tiny: TinyLlama;
beforeAll(async () => {
  root = await tempDir();
  tiny = await makeTinyLlama(root, "byte-fallback");
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

async function variant(name: string, change: (file: string) => Promise<void>): Promise<string> {
  const dir = path.join(root, name);
  await fs.cp(tiny.dir, dir, { recursive: true });
  await change(path.join(dir, "tokenizer_config.json"));
  return dir;
}

describe("tokenizer_config.json", () => {
  it("absent: both readers go on without it", async () => {
    const dir = await variant("absent", (file) => fs.rm(file));
    expect((await readVocab(dir))?.tokens.length).toBeGreaterThan(0);
    expect((await readBpeTokenizer(dir)).size).toBeGreaterThan(0);
  });

  it("corrupt: an InputFileError naming the file from both readers", async () => {
    const dir = await variant("corrupt", (file) => fs.writeFile(file, "{\"add_bos_token\": tr"));
    for (const read of [readVocab, readBpeTokenizer]) {
      const error = await read(dir).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(InputFileError);
      expect((error as InputFileError).file).toBe(path.join(dir, "tokenizer_config.json"));
    }
  });

  it("unreadable (a folder in its place): an error, not an empty config", async () => {
    const dir = await variant("unreadable", async (file) => {
      await fs.rm(file);
      await fs.mkdir(file);
    });
    await expect(readVocab(dir)).rejects.toThrow(/tokenizer_config\.json: cannot be read/);
    await expect(readBpeTokenizer(dir)).rejects.toThrow(/tokenizer_config\.json: cannot be read/);
  });
});
