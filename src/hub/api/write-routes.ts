/**
 * Writes: uploads, experts, submitted evidence, suites, contributors, the composition policy and
 * publishing. Each checks the caller's role (and ownership), validates the whole request first,
 * and lands together with its audit entry in one transaction; nothing changes on any refusal.
 */
import { createHash } from "node:crypto";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import type { Readable } from "node:stream";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { CogenError, ConfigError } from "../../core/errors.js";
import { parseTasks } from "../../formats/tasks.js";
import { DEFAULT_POLICY, type HubPolicy } from "../compose.js";
import { parseCompositionPolicy } from "../policy.js";
import { POLICY_SETTING, type HubLoop } from "../loop.js";
import type { ArtefactRecord, ContributorRecord, ExpertRecord, HubStore } from "../store/store.js";
import { confinedPath, hashMismatch, receiveUpload, sha256File, sha256Folder, SHA256_PATTERN, validateGguf } from "./artefacts.js";
import { atLeast, issueApiKey, requireRole } from "./auth.js";
import { conflict, forbidden, HubApiError, invalid, notFound } from "./errors.js";
import { ID_PATTERN, parseEvidenceRequest, parseExpertRequest, parseRole, type ArtefactRequest } from "./validate.js";
import { expertCard } from "./views.js";

export interface WriteContext {
  store: HubStore;
  loop: HubLoop;
  dataDir: string;
  artefactRoot?: string;
  maxUploadBytes: number;
}

type Obj = Record<string, unknown>;

export function uploadsDir(dataDir: string): string {
  return path.join(dataDir, "artefacts");
}

async function resolveArtefact(ctx: WriteContext, request: ArtefactRequest): Promise<ArtefactRecord> {
  const none = { path: null, sha256: null, bytes: null, baseExpert: null, url: null, model: null };
  if (request.kind === "endpoint") return { ...none, kind: "endpoint", origin: "reference", url: request.url!, model: request.model ?? null };
  let record: ArtefactRecord;
  if (request.upload) {
    const file = path.join(uploadsDir(ctx.dataDir), `${request.upload}.gguf`);
    const stat = await fs.stat(file).catch(() => undefined);
    if (!stat) throw invalid([`artefact.upload: no uploaded artefact with sha256 ${request.upload} (POST /api/artefacts first)`]);
    record = { ...none, kind: request.kind, origin: "upload", path: file, sha256: request.upload, bytes: stat.size };
  } else {
    const file = await confinedPath(ctx.artefactRoot, request.path!, "artefact.path");
    const stat = await fs.stat(file);
    if (request.kind === "hf" ? !stat.isDirectory() : !stat.isFile()) throw invalid([`artefact.path: '${request.path}' must be ${request.kind === "hf" ? "a folder" : "a file"}`]);
    const { sha256, bytes } = request.kind === "hf" ? await sha256Folder(file) : await sha256File(file);
    record = { ...none, kind: request.kind, origin: "reference", path: file, sha256, bytes };
  }
  if (request.sha256 && request.sha256 !== record.sha256) throw hashMismatch(request.sha256, record.sha256!);
  if (record.kind === "gguf" || record.kind === "lora") await validateGguf(record.path!, record.kind, "artefact");
  if (request.kind === "lora") record.baseExpert = request.baseExpert!;
  return record;
}

async function checkBase(store: HubStore, artefact: ArtefactRecord): Promise<void> {
  if (artefact.kind !== "lora") return;
  const base = await store.getExpert(artefact.baseExpert!);
  if (!base || base.artefact.kind !== "gguf") throw invalid([`artefact.baseExpert: '${artefact.baseExpert}' is not a registered GGUF expert`]);
}

function mayEdit(caller: ContributorRecord, expert: ExpertRecord): void {
  if (expert.owner !== caller.id && !atLeast(caller.role, "maintainer")) throw forbidden(`expert '${expert.id}' belongs to '${expert.owner}', not '${caller.id}'`);
}

export function registerWriteRoutes(app: FastifyInstance, ctx: WriteContext): void {
  const { store, loop } = ctx;

  // Uploads stream through; the size limit and hash are enforced while reading.
  app.addContentTypeParser("application/octet-stream", { bodyLimit: Number.MAX_SAFE_INTEGER }, (_request, payload, done) => done(null, payload));

  app.post("/api/artefacts", async (request: FastifyRequest, reply) => {
    const caller = await requireRole(store, request, "contributor");
    const query = request.query as Obj;
    const kind = query.kind ?? "gguf";
    if (kind !== "gguf" && kind !== "lora") throw invalid(["kind: gguf or lora (an HF folder is registered by reference)"]);
    const expected = request.headers["x-cogen-sha256"];
    if (typeof expected !== "string" || !SHA256_PATTERN.test(expected)) throw invalid(["x-cogen-sha256: header required, the upload's sha256 in lowercase hex"]);
    const declared = Number(request.headers["content-length"]);
    if (Number.isFinite(declared) && declared > ctx.maxUploadBytes) throw new HubApiError(413, "too_large", `upload of ${declared} bytes is larger than the hub's limit of ${ctx.maxUploadBytes} bytes`);
    if (!request.headers["content-type"]?.startsWith("application/octet-stream")) throw invalid(["content-type: application/octet-stream"]);
    const stored = await receiveUpload(request.body as Readable, uploadsDir(ctx.dataDir), ctx.maxUploadBytes, expected, kind);
    await store.audit(caller.id, "artefact.upload", `artefact:${stored.sha256}`, { kind, bytes: stored.bytes });
    return reply.status(201).send({ sha256: stored.sha256, bytes: stored.bytes });
  });

  app.post("/api/experts", async (request, reply) => {
    const caller = await requireRole(store, request, "contributor");
    const body = parseExpertRequest(request.body);
    if (await store.getExpert(body.id)) throw conflict(`expert '${body.id}' exists (update it with PUT /api/experts/${body.id})`);
    const artefact = await resolveArtefact(ctx, body.artefact);
    await checkBase(store, artefact);
    const expert = await store.transaction(async (tx) => {
      const created = await tx.createExpert({ id: body.id, owner: caller.id, family: body.family, base: body.base, domains: body.domains, licence: body.licence, card: body.card, evaluation: body.evaluation, derived: body.derived, artefact });
      await tx.audit(caller.id, "expert.register", `expert:${body.id}`, { revision: created.revision, artefact: { kind: artefact.kind, sha256: artefact.sha256, origin: artefact.origin } });
      return created;
    }).catch((error: Error) => {
      if (/UNIQUE|duplicate key/i.test(error.message)) throw conflict(`expert '${body.id}' exists`);
      throw error;
    });
    loop.enqueue(expert.id);
    return reply.status(201).send(await expertCard(store, expert));
  });

  app.put("/api/experts/:id", async (request) => {
    const caller = await requireRole(store, request, "contributor");
    const { id } = request.params as { id: string };
    const existing = await store.getExpert(id);
    if (!existing) throw notFound(`no expert '${id}'`);
    mayEdit(caller, existing);
    const body = parseExpertRequest(request.body, id);
    const artefact = await resolveArtefact(ctx, body.artefact);
    await checkBase(store, artefact);
    const expert = await store.transaction(async (tx) => {
      const updated = await tx.updateExpert({ id, owner: existing.owner, family: body.family, base: body.base, domains: body.domains, licence: body.licence, card: body.card, evaluation: body.evaluation, derived: body.derived, artefact });
      await tx.audit(caller.id, "expert.update", `expert:${id}`, { revision: updated.revision, artefact: { kind: artefact.kind, sha256: artefact.sha256, origin: artefact.origin } });
      return updated;
    });
    loop.enqueue(id);
    return expertCard(store, expert);
  });

  // One submission is checked as a whole, so it may be as large as a suite.
  app.post("/api/experts/:id/evidence", { bodyLimit: 64 * 1024 * 1024 }, async (request, reply) => {
    const caller = await requireRole(store, request, "contributor");
    const { id } = request.params as { id: string };
    const expert = await store.getExpert(id);
    if (!expert) throw notFound(`no expert '${id}'`);
    mayEdit(caller, expert);
    const body = parseEvidenceRequest(request.body);
    const items = new Map((await store.suiteItems(body.suite)).map((i) => [i.id, i.domain]));
    if (items.size === 0) throw invalid([`suite: no suite '${body.suite}'`]);
    const unknown = body.results.filter((r) => !items.has(r.item)).map((r) => r.item);
    if (unknown.length) throw invalid([`results: ${unknown.length} item(s) not in suite '${body.suite}': ${unknown.slice(0, 5).join(", ")}`]);
    const added = await store.transaction(async (tx) => {
      const n = await tx.addEvidence(body.results.map((r) => ({
        expertId: id, revision: expert.revision, suiteId: body.suite, itemId: r.item, source: "submitted" as const, producer: caller.id,
        domain: items.get(r.item)!, score: r.score, record: r.record,
      })));
      await tx.audit(caller.id, "evidence.submit", `expert:${id}`, { revision: expert.revision, suite: body.suite, results: body.results.length, added: n });
      return n;
    });
    await store.setExpertState(id, expert.revision, "queued");
    loop.enqueue(id);
    return reply.status(202).send({ added, skipped: body.results.length - added, revision: expert.revision });
  });

  app.post("/api/suites", { bodyLimit: 64 * 1024 * 1024 }, async (request, reply) => {
    const caller = await requireRole(store, request, "maintainer");
    const body = request.body as Obj;
    const problems: string[] = [];
    if (typeof body !== "object" || body === null) throw invalid(["body: must be a JSON object"]);
    const id = typeof body.id === "string" && ID_PATTERN.test(body.id) ? body.id : (problems.push(`id: required, matching ${ID_PATTERN}`), "");
    const provenance = typeof body.provenance === "string" && body.provenance ? body.provenance : (problems.push("provenance: required (where the tasks came from)"), "");
    const licence = typeof body.licence === "string" && body.licence ? body.licence : (problems.push("licence: required"), "");
    const tasksText = typeof body.tasks === "string" ? body.tasks : (problems.push("tasks: required, the task file's JSONL text"), "");
    if (problems.length) throw invalid(problems);
    const sha256 = createHash("sha256").update(tasksText).digest("hex");
    if (body.sha256 !== undefined && body.sha256 !== sha256) throw hashMismatch(String(body.sha256), sha256);
    let tasks;
    try {
      tasks = parseTasks(tasksText, `suite '${id}'`);
    } catch (error) {
      if (!CogenError.isInstance(error)) throw error;
      throw invalid([error.message]);
    }
    if (tasks.length === 0) throw invalid(["tasks: no items"]);
    const dupes = tasks.map((t) => t.id).filter((t, i, all) => all.indexOf(t) !== i);
    if (dupes.length) throw invalid([`tasks: duplicate item ids: ${[...new Set(dupes)].slice(0, 5).join(", ")}`]);
    if ((await store.listSuites()).some((s) => s.id === id)) throw conflict(`suite '${id}' exists; suites are immutable (register a new id)`);
    const domains = [...new Set(tasks.map((t) => t.domain))].sort();
    const suite = await store.transaction(async (tx) => {
      const created = await tx.createSuite({ id, domains, sha256, provenance, licence, createdBy: caller.id }, tasks.map((t) => ({ id: t.id, domain: t.domain, task: t })));
      await tx.audit(caller.id, "suite.create", `suite:${id}`, { sha256, items: tasks.length, domains });
      return created;
    });
    // A new suite is new evidence to collect for every expert.
    for (const expert of await store.allExperts()) loop.enqueue(expert.id);
    return reply.status(201).send(suite);
  });

  app.post("/api/contributors", async (request, reply) => {
    const caller = await requireRole(store, request, "maintainer");
    const body = request.body as Obj;
    const problems: string[] = [];
    if (typeof body !== "object" || body === null) throw invalid(["body: must be a JSON object"]);
    const id = typeof body.id === "string" && ID_PATTERN.test(body.id) ? body.id : (problems.push(`id: required, matching ${ID_PATTERN}`), "");
    const name = typeof body.name === "string" && body.name.length > 0 && body.name.length <= 200 ? body.name : (problems.push("name: required"), "");
    const role = parseRole(body.role, problems);
    if (problems.length) throw invalid(problems);
    if (await store.getContributor(id)) throw conflict(`contributor '${id}' exists`);
    const key = await store.transaction(async (tx) => {
      await tx.createContributor({ id, name, role });
      const issued = await issueApiKey(tx, id);
      await tx.audit(caller.id, "contributor.create", `contributor:${id}`, { role });
      return issued;
    });
    return reply.status(201).send({ contributor: { id, name, role }, key });
  });

  app.get("/api/policy", async (request): Promise<HubPolicy> => {
    await requireRole(store, request, "reader");
    return (await store.getSetting<HubPolicy>(POLICY_SETTING)) ?? DEFAULT_POLICY;
  });

  // { policy: { kind: router, top_k: 3 } | { kind: ensemble, top_n } | { kind: prefer-derived, ... }, autoPublish }
  app.put("/api/policy", async (request): Promise<HubPolicy> => {
    const caller = await requireRole(store, request, "maintainer");
    const body = request.body as Obj;
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw invalid(["body: must be a JSON object"]);
    const problems: string[] = [];
    for (const key of Object.keys(body)) if (!["policy", "autoPublish"].includes(key)) problems.push(`${key}: unknown field (known: policy, autoPublish)`);
    if (body.autoPublish !== undefined && typeof body.autoPublish !== "boolean") problems.push("autoPublish: true or false");
    if (body.policy !== undefined) {
      try {
        parseCompositionPolicy(body.policy, "policy");
      } catch (error) {
        if (!ConfigError.isInstance(error)) throw error;
        problems.push(...error.problems);
      }
    }
    if (problems.length) throw invalid(problems);
    const current = (await store.getSetting<HubPolicy>(POLICY_SETTING)) ?? DEFAULT_POLICY;
    const setting: HubPolicy = {
      policy: (body.policy as HubPolicy["policy"] | undefined) ?? current.policy,
      autoPublish: (body.autoPublish as boolean | undefined) ?? current.autoPublish,
    };
    await store.transaction(async (tx) => {
      await tx.putSetting(POLICY_SETTING, setting);
      await tx.audit(caller.id, "policy.set", "policy", { ...setting });
    });
    return setting;
  });

  app.post("/api/compositions", async (request, reply) => {
    const caller = await requireRole(store, request, "maintainer");
    const composition = await loop.compose(caller.id);
    if (!composition) throw invalid(["no expert qualifies yet (no leaderboard has entries)"]);
    return reply.status(201).send(composition);
  });

  app.post("/api/compositions/:version/publish", async (request) => {
    const caller = await requireRole(store, request, "maintainer");
    const { version } = request.params as { version: string };
    if (!/^\d{1,9}$/.test(version) || !(await store.getComposition(Number(version)))) throw notFound(`no composition '${version}'`);
    return loop.publish(Number(version), caller.id);
  });
}
