import * as path from "node:path";
import { ConfigError } from "../core/errors.js";
import { exists } from "../core/files.js";
import { readTasksFile, type TaskItem } from "../formats/tasks.js";
import { readZooPivotsManifest, ZOO_PIVOTS_DIR } from "../fuse/distill/zoo-pivots.js";
import { readZooMoePivotsManifest, ZOO_MOE_PIVOTS_DIR } from "../fuse/distill/zoo-moe-pivots.js";
import { modelName, readZooManifest } from "../zoo/build/manifest.js";

/** What the main job needs from the zoo: models (with their files) and held-out items. */
export interface DemoZooModel {
  id: string;
  family: "a" | "b";
  role: "base" | "expert" | "control";
  domain?: string;
  /** GGUF that llama.cpp runs. */
  gguf: string;
  /** Hugging Face folder (for weight merging). */
  hf?: string;
}

export interface DemoZoo {
  root: string;
  domains: string[];
  /** The experts, bases and control: what the router, ensemble and merge are built from. */
  models: DemoZooModel[];
  items: TaskItem[];
  /**
   * Single checkpoints judged against the unified models but never their members: the
   * centralised model (role "centralised") and the distilled pivots (zoo/pivots: "pivot",
   * "pivot-control", "pivot-family-b", "pivot-fpo", "pivot-sampled", "pivot-sampled-control", "pivot-wide-sampled", "pivot-wide-sampled-control"; zoo/pivots-moe: "pivot-moe", "pivot-moe-control").
   */
  distilled?: DistilledModel[];
  /** The committed evolved merge (zoo/evolved: `cogen adapt evolve` over the family-A experts), judged beside them. */
  evolved?: { id: string; gguf: string };
}

/** zoo/evolved/: merge.yml (the evolved recipe), model.gguf (its merge), report.json, README.md. */
export const ZOO_EVOLVED_DIR = "evolved";
export const EVOLVED_MODEL_ID = "a-evolved-ties";

export interface DistilledModel {
  id: string;
  role: "centralised" | "pivot" | "pivot-control" | "pivot-family-b" | "pivot-fpo" | "pivot-sampled" | "pivot-sampled-control" | "pivot-wide-sampled" | "pivot-wide-sampled-control" | "pivot-moe" | "pivot-moe-control";
  gguf: string;
}

/** Item kinds the demo judges by: cloze multiple choice (the zoo's models score clearly above chance there; continuation and definition items are at chance) and bits per byte. */
export const DEMO_ITEM_KINDS = ["cloze", "bitsPerByte"] as const;

/** Read a zoo folder (see src/zoo/build/manifest.ts) as the main job's inputs. */
export async function loadDemoZoo(dir: string): Promise<DemoZoo> {
  const manifest = await readZooManifest(dir);
  if (!manifest.complete) throw new ConfigError([`${dir}: the zoo build is not complete (run 'cogen zoo build' to finish it)`]);
  const items: TaskItem[] = [];
  for (const kind of DEMO_ITEM_KINDS) {
    const entry = manifest.items[kind];
    if (!entry) throw new ConfigError([`${dir}: the zoo has no ${kind} items`]);
    items.push(...(await readTasksFile(path.join(dir, entry.file))));
  }
  const evolvedGguf = path.join(dir, ZOO_EVOLVED_DIR, "model.gguf");
  return {
    root: dir,
    domains: manifest.data.domains.map((d) => d.name),
    items,
    models: manifest.models.filter((m) => m.role !== "centralised").map((m) => ({
      id: modelName(m),
      family: m.family === "b" ? "b" : "a",
      role: m.role === "expert" || m.role === "control" ? m.role : "base",
      domain: m.domain ?? undefined,
      gguf: path.join(dir, m.files.gguf),
      hf: path.join(dir, m.files.hf),
    })),
    distilled: [
      ...manifest.models.filter((m) => m.role === "centralised").map((m) => ({ id: modelName(m), role: "centralised" as const, gguf: path.join(dir, m.files.gguf) })),
      ...((await readZooPivotsManifest(path.join(dir, ZOO_PIVOTS_DIR)))?.models ?? []).map((m) => ({ id: m.id.replaceAll("/", "-").replace(/^pivots-/, "pivot-"), role: m.role, gguf: path.join(dir, m.files.gguf) })),
      ...((await readZooMoePivotsManifest(path.join(dir, ZOO_MOE_PIVOTS_DIR)))?.models ?? []).map((m) => ({ id: m.id.replaceAll("/", "-").replace(/^pivots-/, "pivot-"), role: m.role, gguf: path.join(dir, m.files.gguf) })),
    ],
    ...((await exists(evolvedGguf)) ? { evolved: { id: EVOLVED_MODEL_ID, gguf: evolvedGguf } } : {}),
  };
}
