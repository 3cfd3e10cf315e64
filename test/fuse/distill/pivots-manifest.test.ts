import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readZooMoePivotsManifest } from "../../../src/fuse/distill/zoo-moe-pivots.js";
import { readZooPivotsManifest } from "../../../src/fuse/distill/zoo-pivots.js";

let root: string;
beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), "cogen-pivots-manifest-"));
});
afterAll(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

async function folderWith(name: string, text: string): Promise<string> {
  const dir = path.join(root, name);
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, "manifest.json"), text);
  return dir;
}

describe.each([
  ["zoo/pivots", readZooPivotsManifest, "cogen-zoo-pivots/1", /not a pivots manifest/],
  ["zoo/pivots-moe", readZooMoePivotsManifest, "cogen-zoo-moe-pivots/1", /not a MoE pivots manifest/],
] as const)("the %s manifest reader", (name, read, format, wrongFormat) => {
  const slug = name.replace("/", "-");
  it("is undefined for a folder without a manifest", async () => {
    await fs.mkdir(path.join(root, `${slug}-empty`), { recursive: true });
    expect(await read(path.join(root, `${slug}-empty`))).toBeUndefined();
  });
  it("names the file when it is not JSON, not an object, or of another format", async () => {
    const broken = await folderWith(`${slug}-broken`, "{ \"format\": ");
    await expect(read(broken)).rejects.toThrow(new RegExp(`${slug}-broken.manifest\\.json.*not valid JSON`));
    await expect(read(await folderWith(`${slug}-array`, "[]"))).rejects.toThrow(/manifest\.json.*expected a JSON object/);
    await expect(read(await folderWith(`${slug}-other`, JSON.stringify({ format: "cogen-zoo/1", models: [] })))).rejects.toThrow(wrongFormat);
    await expect(read(await folderWith(`${slug}-no-models`, JSON.stringify({ format })))).rejects.toThrow(wrongFormat);
  });
  it("reads a manifest of its format", async () => {
    const dir = await folderWith(`${slug}-ok`, JSON.stringify({ format, models: [] }));
    expect((await read(dir))!.models).toEqual([]);
  });
});
