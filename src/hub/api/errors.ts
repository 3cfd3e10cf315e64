/** The API's errors: one JSON shape (api-types ApiError) with a stable code per HTTP status. */
import type { FastifyError, FastifyInstance } from "fastify";
import { CogenError, ConfigError, InputFileError } from "../../core/errors.js";
import type { ApiError } from "../api-types.js";
import { StoreUnavailableError } from "../store/db.js";

export class HubApiError extends CogenError {
  override readonly name = "HubApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly problems?: string[],
  ) {
    super(message);
  }
}

export const unauthorized = (message = "an API key is required (Authorization: Bearer <key>)") => new HubApiError(401, "unauthorized", message);
export const forbidden = (message: string) => new HubApiError(403, "forbidden", message);
export const notFound = (message: string) => new HubApiError(404, "not_found", message);
export const invalid = (problems: string[]) => new HubApiError(400, "invalid", problems.length === 1 ? problems[0] : `${problems.length} problems: ${problems.join("; ")}`, problems);
export const conflict = (message: string) => new HubApiError(409, "conflict", message);

function body(code: string, message: string, problems?: string[]): ApiError {
  return { error: { code, message, ...(problems ? { problems } : {}) } };
}

/** Map every error to its JSON answer; unknown errors are logged and answered without details. */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof HubApiError) return reply.status(error.status).send(body(error.code, error.message, error.problems));
    if (error instanceof StoreUnavailableError) return reply.status(503).send(body("unavailable", error.message));
    if (error instanceof ConfigError) return reply.status(400).send(body("invalid", error.message, error.problems));
    if (error instanceof InputFileError) return reply.status(400).send(body("invalid", error.message));
    if (error.code === "FST_ERR_CTP_BODY_TOO_LARGE") return reply.status(413).send(body("too_large", error.message));
    if (error.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") return reply.status(415).send(body("unsupported_media_type", error.message));
    if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) return reply.status(error.statusCode).send(body("invalid", error.message));
    request.log.error(error);
    return reply.status(500).send(body("internal", "internal error (logged by the hub)"));
  });
  // A route, not a not-found handler: the gateway sharing this server keeps its own for the rest.
  app.all("/api/*", async (request, reply) => reply.status(404).send(body("not_found", `no route ${request.method} ${request.url.split("?")[0]}`)));
}
