// Reads a request body under a size limit without trusting Content-Length, and parses JSON.
import { AppError } from "../../shared/errors.ts";
import { readAtMost } from "../../shared/streams.ts";
import { isObject, type JsonObject } from "./providers/types.ts";

/** Largest request body the gateway accepts (documented in docs/gateway.md). */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;

export async function readBody(request: Request, limit = MAX_BODY_BYTES): Promise<Uint8Array | AppError> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  const tooLarge = new AppError("payload_too_large", `Request bodies are limited to ${limit} bytes.`);
  if (declared > limit) return tooLarge;
  return (await readAtMost(request.body, limit)) ?? tooLarge;
}

export function parseJsonObject(bytes: Uint8Array, contentType: string | null): JsonObject | AppError {
  if (!contentType || !/^application\/json\s*(;|$)/i.test(contentType)) {
    return new AppError("unsupported_media_type", "Send the request body as application/json.");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return new AppError("invalid_json", "The request body is not valid JSON.");
  }
  if (!isObject(parsed)) return new AppError("invalid_json", "The request body must be a JSON object.");
  return parsed;
}
