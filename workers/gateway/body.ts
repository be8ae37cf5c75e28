// Reads a request body under a size limit without trusting Content-Length, and parses JSON.
import { AppError } from "../../shared/errors.ts";
import { readAtMost } from "../../shared/streams.ts";
import { isObject, type JsonObject } from "./providers/types.ts";

/** Largest request body the gateway accepts (documented in docs/gateway.md). */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;
/** Deepest nesting of arrays and objects a request body may have (documented in docs/gateway.md):
 * far beyond any real request, and it keeps every walk over the body shallow. */
export const MAX_JSON_DEPTH = 128;

const NO_BODY: Promise<Uint8Array> = Promise.resolve(new Uint8Array(0));

/** Whether a request of this method carries a body (read and forwarded). */
export function carriesBody(method: string): boolean {
  return method !== "GET" && method !== "HEAD";
}

/** The request's body under the size limit; none for GET and HEAD. */
export function requestBytes(request: Request): Promise<Uint8Array | AppError> {
  return carriesBody(request.method) ? readBody(request) : NO_BODY;
}

export async function readBody(request: Request, limit = MAX_BODY_BYTES): Promise<Uint8Array | AppError> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > limit) return tooLarge(limit);
  return (await readAtMost(request.body, limit)) ?? tooLarge(limit);
}

const tooLarge = (limit: number) => new AppError("payload_too_large", `Request bodies are limited to ${limit} bytes.`);

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
  if (!nestedWithin(parsed, MAX_JSON_DEPTH)) {
    return new AppError("invalid_json", `The request body is nested more than ${MAX_JSON_DEPTH} levels deep.`);
  }
  return parsed;
}

/** Whether no array or object lies deeper than `max` levels (walked without recursion). */
function nestedWithin(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  for (let next = stack.pop(); next; next = stack.pop()) {
    const [item, depth] = next;
    if (typeof item !== "object" || item === null) continue;
    if (depth > max) return false;
    for (const child of Array.isArray(item) ? item : Object.values(item)) {
      if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
    }
  }
  return true;
}
