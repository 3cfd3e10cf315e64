/**
 * Errors in the shape OpenAI clients expect: `{ error: { message, type, param, code } }` with the
 * matching HTTP status, so official clients raise their usual exception classes.
 */
import { CogenError } from "../core/errors.js";

export type OpenAIErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "not_found_error"
  | "rate_limit_error"
  | "server_error"
  | "timeout_error";

/** An error the gateway answers with; a CogenError, so the CLI prints its message. */
export class GatewayError extends CogenError {
  override readonly name = "GatewayError";
  constructor(
    readonly status: number,
    readonly type: OpenAIErrorType,
    message: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }

  body(): { error: { message: string; type: OpenAIErrorType; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const invalidRequest = (message: string, param: string | null = null) =>
  new GatewayError(400, "invalid_request_error", message, param, "invalid_value");
