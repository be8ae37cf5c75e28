// Expected failures carry a stable code; the edge turns them into the caller's error shape
// (provider-shaped JSON on the gateway, plain JSON on the management API).
import type { z } from "zod";

export type ErrorCode =
  | "bad_request"
  | "invalid_json"
  | "unsupported_media_type"
  | "payload_too_large"
  | "missing_model"
  | "invalid_dimension"
  | "unknown_route"
  | "unknown_provider"
  | "provider_not_configured"
  | "invalid_api_key"
  | "forbidden"
  | "budget_exceeded"
  | "policy_denied"
  | "rate_limited"
  | "not_found"
  | "conflict"
  | "ledger_unavailable"
  | "upstream_unreachable"
  | "upstream_redirect"
  | "internal_error";

const STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  invalid_json: 400,
  unsupported_media_type: 415,
  payload_too_large: 413,
  missing_model: 400,
  invalid_dimension: 400,
  unknown_route: 404,
  unknown_provider: 404,
  provider_not_configured: 400,
  invalid_api_key: 401,
  forbidden: 403,
  budget_exceeded: 402,
  policy_denied: 403,
  rate_limited: 429,
  not_found: 404,
  conflict: 409,
  ledger_unavailable: 503,
  upstream_unreachable: 502,
  upstream_redirect: 502,
  internal_error: 500,
};

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly param: string | null;

  constructor(code: ErrorCode, message: string, param: string | null = null) {
    super(message);
    this.name = "AppError";
    this.code = code;
    this.status = STATUS[code];
    this.param = param;
  }
}

/** The first zod issue as a message that names the field. */
export function invalid(issues: z.core.$ZodIssue[]): AppError {
  const issue = issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.join(".") : null;
  const message = issue ? `${field ? `${field}: ` : ""}${issue.message}` : "Invalid request.";
  return new AppError("bad_request", message, field);
}
