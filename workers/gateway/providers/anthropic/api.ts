// Anthropic wire format: https://docs.anthropic.com/en/api/errors (error envelope, x-api-key).
import type { AppError } from "../../../../shared/errors.ts";
import type { JsonObject } from "../types.ts";
import { readBearer } from "../../../../shared/bearer.ts";

export const ANTHROPIC_BASE_URL = "https://api.anthropic.com/v1";

const TYPES: Partial<Record<AppError["code"], string>> = {
  invalid_api_key: "authentication_error",
  forbidden: "permission_error",
  policy_denied: "permission_error",
  budget_exceeded: "billing_error",
  rate_limited: "rate_limit_error",
  unknown_route: "not_found_error",
  unknown_provider: "not_found_error",
  not_found: "not_found_error",
  payload_too_large: "request_too_large",
  ledger_unavailable: "api_error",
  upstream_unreachable: "api_error",
  upstream_redirect: "api_error",
  internal_error: "api_error",
};

export function anthropicError(error: AppError): JsonObject {
  return { type: "error", error: { type: TYPES[error.code] ?? "invalid_request_error", message: error.message } };
}

/** The Anthropic SDK sends x-api-key; with `authToken` it sends a bearer token instead. */
export function readAnthropicKey(headers: Headers): string | null {
  return headers.get("x-api-key")?.trim() || readBearer(headers);
}
