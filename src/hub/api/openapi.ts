/**
 * The OpenAPI 3.1 description of the contributor API, written by hand beside the routes. Response
 * bodies are named after the types of src/hub/api-types.ts.
 */
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (name: string, description = "OK") => ({ description, content: { "application/json": { schema: ref(name) } } });
const errors = {
  400: json("ApiError", "invalid request (every problem listed)"),
  401: json("ApiError", "no key, or an unknown or revoked key"),
  403: json("ApiError", "the key's role (or ownership) does not allow this"),
  404: json("ApiError", "not found"),
};
const q = (name: string, description: string) => ({ name, in: "query", required: false, schema: { type: "string" }, description });
const pageParams = [q("limit", "page size (default 50, at most 500)"), q("offset", "rows to skip")];
const pathParam = (name: string) => ({ name, in: "path", required: true, schema: { type: "string" } });
const body = (name: string) => ({ required: true, content: { "application/json": { schema: ref(name) } } });
const secured = [{ apiKey: [] }];

/** Schema names → the api-types.ts type they stand for (kept loose: the types file is the contract). */
const SCHEMAS = [
  "ApiError", "HubStatus", "ExpertList", "ExpertCard", "ExpertRequest", "EvidenceRequest", "ContributorList", "ContributorRequest",
  "SuiteList", "Suite", "SuiteRequest", "LeaderboardIndex", "Leaderboard", "ItemQualityList", "CompositionHistory", "Composition",
  "HubPolicy", "AuditList",
];

export function openApiDocument(version: string): Record<string, unknown> {
  return {
    openapi: "3.1.0",
    info: {
      title: "cogen hub",
      version,
      description: "Registry, leaderboards and compositions of contributed domain experts. Reads are public unless the hub says otherwise; writes need `Authorization: Bearer <key>`. JSON shapes: src/hub/api-types.ts.",
    },
    components: {
      securitySchemes: { apiKey: { type: "http", scheme: "bearer", description: "cgk_<id>_<secret>, issued by a maintainer" } },
      schemas: Object.fromEntries(SCHEMAS.map((name) => [name, { type: "object", description: `See ${name} in src/hub/api-types.ts (or the route's description).` }])),
    },
    paths: {
      "/api/status": { get: { summary: "Hub status", responses: { 200: json("HubStatus") } } },
      "/api/experts": {
        get: { summary: "List experts", parameters: [q("domain", "exact domain"), q("owner", "contributor id"), q("family", "architecture family"), q("q", "substring of the id"), ...pageParams], responses: { 200: json("ExpertList"), 400: errors[400] } },
        post: { summary: "Register an expert (contributor); enqueues its evaluation", security: secured, requestBody: body("ExpertRequest"), responses: { 201: json("ExpertCard"), ...errors, 409: json("ApiError", "exists") } },
      },
      "/api/experts/{id}": {
        get: { summary: "Expert card", parameters: [pathParam("id")], responses: { 200: json("ExpertCard"), 404: errors[404] } },
        put: { summary: "Update an expert (its owner or a maintainer); new revision, re-evaluated", security: secured, parameters: [pathParam("id")], requestBody: body("ExpertRequest"), responses: { 200: json("ExpertCard"), ...errors } },
      },
      "/api/experts/{id}/evidence": {
        post: { summary: "Submit per-item results computed elsewhere (marked submitted; a seeded sample is re-run)", security: secured, parameters: [pathParam("id")], requestBody: body("EvidenceRequest"), responses: { 202: { description: "{ added, skipped, revision }" }, ...errors } },
      },
      "/api/artefacts": {
        post: {
          summary: "Upload a GGUF (or LoRA adapter GGUF); validated before anything loads it",
          security: secured,
          parameters: [q("kind", "gguf (default) or lora"), { name: "x-cogen-sha256", in: "header", required: true, schema: { type: "string" } }],
          requestBody: { required: true, content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } } },
          responses: { 201: { description: "{ sha256, bytes }" }, ...errors, 413: json("ApiError", "larger than the hub's upload limit") },
        },
      },
      "/api/contributors": {
        get: { summary: "Contributors", parameters: pageParams, responses: { 200: json("ContributorList") } },
        post: { summary: "Create a contributor and its first key (maintainer)", security: secured, requestBody: body("ContributorRequest"), responses: { 201: { description: "{ contributor, key } (the key is shown once)" }, ...errors } },
      },
      "/api/suites": {
        get: { summary: "Evaluation suites", parameters: pageParams, responses: { 200: json("SuiteList") } },
        post: { summary: "Add a suite (maintainer): { id, provenance, licence, tasks (JSONL text), sha256? }", security: secured, requestBody: body("SuiteRequest"), responses: { 201: json("Suite"), ...errors } },
      },
      "/api/leaderboards": { get: { summary: "Latest leaderboard of every domain", responses: { 200: json("LeaderboardIndex") } } },
      "/api/leaderboards/{domain}": { get: { summary: "A domain's leaderboard with intervals and the evidence it rests on", parameters: [pathParam("domain"), q("version", "an earlier fit")], responses: { 200: json("Leaderboard"), 404: errors[404] } } },
      "/api/items": { get: { summary: "Item quality from the latest fits", parameters: [q("domain", "domain"), q("suite", "suite id"), q("flag", "uninformative | negative_discrimination | low_discrimination"), ...pageParams], responses: { 200: json("ItemQualityList") } } },
      "/api/compositions": {
        get: { summary: "Composition history", responses: { 200: json("CompositionHistory") } },
        post: { summary: "Build a composition now by the policy (maintainer)", security: secured, responses: { 201: json("Composition"), ...errors } },
      },
      "/api/compositions/{version}": { get: { summary: "One composition ('current' for the one served)", parameters: [pathParam("version")], responses: { 200: json("Composition"), 404: errors[404] } } },
      "/api/compositions/{version}/publish": { post: { summary: "Publish (or roll back to) a version (maintainer)", security: secured, parameters: [pathParam("version")], responses: { 200: json("Composition"), ...errors } } },
      "/api/policy": {
        get: { summary: "The composition policy", security: secured, responses: { 200: json("HubPolicy") } },
        put: { summary: "Set the composition policy (maintainer): { policy: { kind: router, top_k } | { kind: ensemble, top_n } | { kind: prefer-derived, derived, otherwise }, autoPublish }", security: secured, requestBody: body("HubPolicy"), responses: { 200: json("HubPolicy"), ...errors } },
      },
      "/api/audit": { get: { summary: "Audit log (maintainer)", security: secured, parameters: [q("actor", "contributor id or hub"), q("action", "e.g. expert.register"), q("target", "e.g. expert:ID"), ...pageParams], responses: { 200: json("AuditList"), ...errors } } },
    },
  };
}
