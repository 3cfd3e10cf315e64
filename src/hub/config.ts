/**
 * hub.yml: how `cogen hub --config hub.yml` runs. Relative paths resolve against the file's
 * folder; every problem is reported at once.
 *
 *   store: ./hub.db                 # a SQLite file (default ./hub.db) or postgres://user@host:port/db
 *   data_dir: ./hub-data            # uploads, composition files, the first maintainer's key
 *   artefact_root: ./models         # registration by reference is confined here (omit: off)
 *   host: 127.0.0.1
 *   port: 8090
 *   queue: redis://127.0.0.1:6379   # evaluate through `cogen worker`s (omit: in-process)
 *   max_upload: 2GiB
 *   public_reads: true              # false: reads need a reader key
 *   seed: 1                         # submitted-evidence samples
 *   recheck_sample: 16              # submitted items re-run per suite
 *   serve: true                     # serve the published composition on this server's /v1
 *   max_tokens: 512                 # largest max_tokens a /v1 request may ask for
 */
import * as path from "node:path";
import { parseSize } from "../core/bytes.js";
import { ConfigError } from "../core/errors.js";
import { readTextFile } from "../core/files.js";
import { unknownKeys } from "../core/suggest.js";
import { parseYamlFile } from "../formats/yaml.js";
import type { HubOptions } from "./api/server.js";

export interface HubConfig extends Omit<HubOptions, "store"> {
  store: string;
  host: string;
  port: number;
}

const KEYS = ["store", "data_dir", "artefact_root", "host", "port", "queue", "max_upload", "public_reads", "seed", "recheck_sample", "serve", "max_tokens"];
export function parseHubConfig(text: string, file: string): HubConfig {
  const doc = (parseYamlFile(text, file, "a hub config").doc.toJS() ?? {}) as Record<string, unknown>;
  if (typeof doc !== "object" || Array.isArray(doc)) throw new ConfigError(["must be a mapping of setting → value"], file);
  const problems = unknownKeys(doc, KEYS, "setting", (key) => key);
  const dir = path.dirname(path.resolve(file));
  const str = (key: string, fallback?: string): string | undefined => {
    const v = doc[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== "string" || v === "") return void problems.push(`${key}: must be a non-empty string`);
    return v;
  };
  const int = (key: string, fallback: number, min: number, max: number): number => {
    const v = doc[key] ?? fallback;
    if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) {
      problems.push(`${key}: an integer from ${min} to ${max}`);
      return fallback;
    }
    return v as number;
  };
  const storeText = str("store", "./hub.db")!;
  const store = /^postgres(ql)?:\/\//.test(storeText) ? storeText : path.resolve(dir, storeText);
  const root = str("artefact_root");
  const queue = str("queue");
  if (queue !== undefined && !/^rediss?:\/\//.test(queue)) problems.push(`queue: a redis:// URL, got '${queue}'`);
  const uploadText = doc.max_upload === undefined ? "2GiB" : String(doc.max_upload);
  let maxUploadBytes: number | undefined;
  try {
    maxUploadBytes = parseSize(uploadText, "max_upload");
    if (maxUploadBytes < 1) problems.push("max_upload: must be at least 1 byte");
  } catch (error) {
    if (!ConfigError.isInstance(error)) throw error;
    problems.push(...error.problems);
  }
  const flag = (key: string, fallback: boolean): boolean => {
    const v = doc[key] ?? fallback;
    if (typeof v !== "boolean") problems.push(`${key}: true or false`);
    return v === true;
  };
  const publicReads = flag("public_reads", true);
  const serve = flag("serve", true);
  const config: HubConfig = {
    store,
    dataDir: path.resolve(dir, str("data_dir", "./hub-data")!),
    ...(root !== undefined ? { artefactRoot: path.resolve(dir, root) } : {}),
    host: str("host", "127.0.0.1")!,
    port: int("port", 8090, 0, 65535),
    ...(queue !== undefined ? { queueUrl: queue } : {}),
    maxUploadBytes: maxUploadBytes ?? 0,
    publicReads,
    serve,
    maxTokensCap: int("max_tokens", 512, 1, 1_000_000),
    seed: int("seed", 1, 0, 2 ** 31 - 1),
    recheckSample: int("recheck_sample", 16, 1, 100_000),
  };
  if (problems.length) throw new ConfigError(problems, file);
  return config;
}

export async function readHubConfig(file: string): Promise<HubConfig> {
  const text = await readTextFile(file);
  return parseHubConfig(text, file);
}
