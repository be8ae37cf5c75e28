// OpenAI wire format: https://platform.openai.com/docs/api-reference (error object, bearer auth).
import type { AppError } from "../../../../shared/errors.ts";
import type { JsonObject } from "../types.ts";

export const OPENAI_BASE_URL = "https://api.openai.com/v1";

const TYPES: Partial<Record<AppError["code"], string>> = {
  invalid_api_key: "invalid_request_error",
  forbidden: "permission_error",
  policy_denied: "permission_error",
  budget_exceeded: "insufficient_quota",
  rate_limited: "requests",
  ledger_unavailable: "server_error",
  upstream_unreachable: "server_error",
  upstream_redirect: "server_error",
  internal_error: "server_error",
};

export function openaiError(error: AppError): JsonObject {
  return {
    error: {
      message: error.message,
      type: TYPES[error.code] ?? "invalid_request_error",
      param: error.param,
      code: error.code,
    },
  };
}
