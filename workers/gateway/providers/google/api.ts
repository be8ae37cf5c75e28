// Gemini API wire format: https://ai.google.dev/api (google.rpc.Status errors, x-goog-api-key).
import type { AppError } from "../../../../shared/errors.ts";
import type { JsonObject } from "../types.ts";

export const GOOGLE_BASE_URL = "https://generativelanguage.googleapis.com";

const STATUS: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  402: "RESOURCE_EXHAUSTED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  413: "INVALID_ARGUMENT",
  415: "INVALID_ARGUMENT",
  429: "RESOURCE_EXHAUSTED",
  500: "INTERNAL",
  502: "UNAVAILABLE",
  503: "UNAVAILABLE",
};

export function googleError(error: AppError): JsonObject {
  return { error: { code: error.status, message: error.message, status: STATUS[error.status] ?? "UNKNOWN" } };
}

export function readGoogleKey(headers: Headers): string | null {
  return headers.get("x-goog-api-key")?.trim() || null;
}
