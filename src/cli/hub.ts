/**
 * `cogen hub`: run the hub (contributor API, registry, continuous loop).
 *   cogen hub --config hub.yml          the hub a config describes (see src/hub/config.ts)
 *   cogen hub --demo [--dir DIR]        embedded SQLite, the zoo registered by several contributors
 *   cogen hub contribute --hub URL ...  register (or update) an expert on a running hub
 */
import * as path from "node:path";
import { InputFileError } from "../core/errors.js";
import { streamProgress, silentProgress } from "../core/progress.js";
import { forEachJsonlObject } from "../formats/jsonl.js";
import { startHub, type StartedHub } from "../hub/api/server.js";
import { ensureMaintainer } from "../hub/bootstrap.js";
import { HubClient } from "../hub/client.js";
import { readHubConfig } from "../hub/config.js";
import { runHubDemo } from "../hub/demo.js";
import { integerFlag, parseFlags, UsageError } from "./args.js";
import { printJson } from "./output.js";
import { readTextFile } from "../core/files.js";

const HELP = `usage: cogen hub --config hub.yml | --demo [options]
       cogen hub contribute --hub URL --id ID ... (cogen hub contribute --help)

Run the hub: contributors register experts through its API (keys and roles), the hub
evaluates them on its suites, refits the per-domain leaderboards with intervals and
publishes a composition by the maintainer's policy, served live on the same server's /v1
(OpenAI-compatible, model "unified"). Web page: /hub/. API description: /api/openapi.json.

options:
  --config FILE     hub.yml (store, data_dir, artefact_root, host, port, queue, max_upload,
                    public_reads, serve, ...; an example in the README, "Hub")
  --demo            embedded SQLite; registers the zoo's experts as contributions from several
                    contributors, evaluates them and publishes a composition
  --dir DIR         --demo: where its database and files go (default: a temporary folder)
  --per-domain N    --demo: held-out items per domain and kind (default 2)
  --port N          override the port (default: hub.yml's, else 8090)
  --json            print what was started as JSON
  --quiet           no progress`;

const CONTRIBUTE_HELP = `usage: cogen hub contribute --hub URL --id ID --family F --domains a,b --licence L
                          --description TEXT (--gguf FILE | --path REF [--kind gguf|lora|hf]
                          | --endpoint URL [--model NAME]) [options]

Register an expert on a running hub (or update it with --update). The key is read from
--key-env (default COGEN_HUB_KEY), never from the command line.

options:
  --hub URL            the hub's base URL (e.g. http://127.0.0.1:8090)
  --key-env VAR        environment variable holding your API key (default COGEN_HUB_KEY)
  --gguf FILE          upload this GGUF (hash checked by the hub, validated before loading)
  --lora FILE          upload this LoRA adapter GGUF; needs --base-expert
  --path REF           register by reference: a path under the hub's artefact root
  --kind KIND          with --path: gguf (default), lora or hf
  --endpoint URL       an OpenAI-compatible server (…/v1); --model names its model
  --base-expert ID     the registered base a LoRA adapter applies to
  --base TEXT          free-text base model (provenance)
  --evidence FILE      per-item results JSONL ({"item", "score"} lines) to submit ...
  --suite ID           ... for this hub suite; the hub re-runs a sample to check them
  --self-evaluated     you submit results; the hub only re-runs samples (evaluation: submitted)
  --derived KIND       moe or distilled: a model built from other experts (prefer-derived policies)
  --update             update the expert if it exists (a new revision)
  --json               print the expert card as JSON`;

export async function run(argv: string[]): Promise<number> {
  if (argv[0] === "contribute") return contribute(argv.slice(1));
  const { values } = parseFlags(argv, {
    config: { type: "string" },
    demo: { type: "boolean", default: false },
    dir: { type: "string" },
    "per-domain": { type: "string", default: "2" },
    port: { type: "string" },
    json: { type: "boolean", default: false },
    quiet: { type: "boolean", default: false },
  }, HELP);
  const problems: string[] = [];
  if (values.demo === (values.config !== undefined)) problems.push("give exactly one of --config FILE or --demo");
  const port = integerFlag(values.port, "--port", problems, 0, 65535);
  const perDomain = integerFlag(values["per-domain"], "--per-domain", problems, 1)!;
  if (problems.length) throw new UsageError(problems);
  const log = (line: string) => { if (!values.quiet) console.error(line); };

  let hub: StartedHub;
  let summary: Record<string, unknown>;
  if (values.demo) {
    const demo = await runHubDemo({ dir: values.dir, perDomain, port: port ?? 8090, progress: values.quiet ? silentProgress : streamProgress() });
    hub = demo.hub;
    summary = { dir: demo.dir, keys: path.join(demo.dir, "keys.json"), experts: demo.experts.length };
  } else {
    const config = await readHubConfig(values.config!);
    hub = await startHub({ ...config, port: port ?? config.port });
    const bootstrap = await ensureMaintainer(hub.store, config.dataDir);
    summary = { maintainerKeyFile: bootstrap.created ? bootstrap.keyFile : null };
  }
  // Listen for the stop signal before saying where the hub is: whoever reads that may stop it at once.
  const stopped = new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  const current = await hub.store.currentComposition();
  const gateway = hub.live ? `${hub.url}/v1` : null;
  Object.assign(summary, { url: hub.url, page: `${hub.url}/hub/`, api: `${hub.url}/api/openapi.json`, gateway, store: hub.store.dialect, composition: current?.version ?? null, members: current?.experts ?? [] });
  if (values.json) printJson(summary);
  else {
    console.log(`hub: ${hub.url}/hub/  (${hub.store.dialect} store; API: ${hub.url}/api/openapi.json)`);
    if (values.demo) console.log(`${summary.experts} zoo experts registered by 3 contributors and evaluated; contributor keys: ${summary.keys}`);
    if (summary.maintainerKeyFile) console.log(`first maintainer 'admin' created; its key is in ${summary.maintainerKeyFile} (mode 0600)`);
    const unified = current?.served[0];
    console.log(current && unified ? `composition v${current.version} published: ${unified.id} (${unified.policy} over ${unified.members.length} experts; each also served by its own id)` : "no composition published yet");
    if (gateway) console.log(`the unified model: ${gateway} (model "unified"; OpenAI-compatible)`);
  }
  log("press Ctrl-C to stop");
  await stopped;
  await hub.close();
  return 0;
}

async function contribute(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    hub: { type: "string" }, "key-env": { type: "string", default: "COGEN_HUB_KEY" }, id: { type: "string" }, family: { type: "string" },
    domains: { type: "string" }, licence: { type: "string" }, description: { type: "string" }, gguf: { type: "string" },
    lora: { type: "string" }, path: { type: "string" }, kind: { type: "string", default: "gguf" }, endpoint: { type: "string" },
    model: { type: "string" }, "base-expert": { type: "string" }, base: { type: "string" }, evidence: { type: "string" },
    suite: { type: "string" }, "self-evaluated": { type: "boolean", default: false }, derived: { type: "string" }, update: { type: "boolean", default: false },
    json: { type: "boolean", default: false },
  }, CONTRIBUTE_HELP);
  const problems: string[] = [];
  for (const flag of ["hub", "id", "family", "domains", "licence", "description"] as const) if (!values[flag]) problems.push(`--${flag} is required`);
  const sources = [values.gguf, values.lora, values.path, values.endpoint].filter((v) => v !== undefined).length;
  if (sources !== 1) problems.push("give exactly one of --gguf, --lora, --path or --endpoint");
  if (values.lora && !values["base-expert"]) problems.push("--lora needs --base-expert (the registered base it adapts)");
  if ((values.evidence === undefined) !== (values.suite === undefined)) problems.push("--evidence and --suite go together");
  const key = process.env[values["key-env"]!];
  if (!key) problems.push(`set your API key in the environment variable ${values["key-env"]} (or name another with --key-env)`);
  if (problems.length) throw new UsageError(problems, "hub contribute");
  const results = values.evidence === undefined ? undefined : await readEvidence(values.evidence);
  const client = new HubClient({ url: values.hub!, key: key! });
  let artefact: Record<string, unknown>;
  if (values.endpoint) artefact = { kind: "endpoint", url: values.endpoint, ...(values.model ? { model: values.model } : {}) };
  else if (values.path) artefact = { kind: values.kind, path: values.path, ...(values["base-expert"] ? { baseExpert: values["base-expert"] } : {}) };
  else {
    const kind = values.lora ? "lora" : "gguf";
    const uploaded = await client.upload((values.lora ?? values.gguf)!, kind);
    console.error(`uploaded ${uploaded.bytes} bytes (sha256 ${uploaded.sha256})`);
    artefact = { kind, upload: uploaded.sha256, ...(values["base-expert"] ? { baseExpert: values["base-expert"] } : {}) };
  }
  const card = await client.register({
    id: values.id!, family: values.family!, ...(values.base ? { base: values.base } : {}), domains: values.domains!.split(",").map((d) => d.trim()).filter(Boolean),
    licence: values.licence!, card: { description: values.description! }, evaluation: values["self-evaluated"] ? "submitted" : "hub", ...(values.derived ? { derived: values.derived } : {}), artefact,
  }, values.update);
  if (results) {
    const submitted = await client.submitEvidence(card.id, values.suite!, results);
    console.error(`evidence: ${submitted.added} results added, ${submitted.skipped} already there (revision ${submitted.revision})`);
  }
  if (values.json) printJson(card);
  else console.log(`${card.id} revision ${card.revision} registered by ${card.owner}; state ${card.state} (the hub evaluates it now: ${values.hub}/api/experts/${card.id})`);
  return 0;
}

/** Per-item results ({"item", "score"} lines), read and checked before anything is sent. */
async function readEvidence(file: string): Promise<{ item: string; score: number }[]> {
  const text = await readTextFile(file);
  const results: { item: string; score: number }[] = [];
  forEachJsonlObject(text, file, "with item and score", (r, line) => {
    if (typeof r.item !== "string" || typeof r.score !== "number") throw new InputFileError(file, `needs "item" (string) and "score" (number)`, line);
    results.push({ ...r, item: r.item, score: r.score });
  });
  if (results.length === 0) throw new InputFileError(file, "no results");
  return results;
}
