// Management API errors: `{ "error": { "code", "message", "field"? } }` with the AppError status.
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { AppError } from "../../shared/errors.ts";

export function apiError(c: Context, error: AppError): Response {
  const body: Record<string, unknown> = { code: error.code, message: error.message };
  if (error.param) body.field = error.param;
  return c.json({ error: body }, error.status as ContentfulStatusCode);
}

export async function jsonBody(c: Context): Promise<unknown> {
  if (!/^application\/json\s*(;|$)/i.test(c.req.header("content-type") ?? "")) {
    throw new AppError("unsupported_media_type", "Send the request body as application/json.");
  }
  const text = await c.req.text();
  if (text.length > 64 * 1024) throw new AppError("payload_too_large", "Management API bodies are limited to 64 KiB.");
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new AppError("invalid_json", "The request body is not valid JSON.");
  }
}
