// The provider-independent part of serving one request: log record, auth, body parsing,
// scenario errors, and JSON / stream responses that keep the log record up to date.

import { type Frame, type Framing, cutBody, frameStream, malformedJson, sleep } from "./sse.ts";
import { type DemoControls, firstByteDelay, scenarioError } from "./scenario.ts";
import type { DemoRequestRecord, Provider, RequestLog } from "./request-log.ts";
import { type JsonObject, isRecord } from "./input-text.ts";

export interface ResolvedOptions {
  defaultOutputTokens: number;
  defaultReasoningTokens: number;
}

export interface UpstreamContext {
  log: RequestLog;
  options: ResolvedOptions;
}

export type ErrorKind =
  | "unauthenticated"
  | "invalid_request"
  | "not_found"
  | "rate_limit"
  | "server_error"
  | "overloaded";

export interface ErrorSpec {
  status: number;
  body: object;
}

/** What differs per provider: ids, headers, key location, error shapes. */
export interface ProviderProfile {
  provider: Provider;
  newRequestId(): string;
  /** Headers sent on every response of this provider. */
  headers(requestId: string): Record<string, string>;
  jsonContentType: string;
  streamContentType: string;
  /** The API key the request carries where this provider expects it, or null. */
  key(request: Request): string | null;
  error(kind: ErrorKind, message: string, requestId: string): ErrorSpec;
  /** Messages for the auth failures. */
  authMessage(key: string | null): string;
}

export interface Exchange {
  record: DemoRequestRecord;
  requestId: string;
  fail(kind: ErrorKind, message: string, extraHeaders?: Record<string, string>): Response;
  json(body: object, init: { controls: DemoControls; usage: object | null; pieces: number }): Response;
  stream(frames: Iterable<Frame>, init: { controls: DemoControls; framing: Framing }): Response;
}

/** Starts a request: log record, first-byte delay, then the key check (null = go on). */
export async function openExchange(
  ctx: UpstreamContext,
  request: Request,
  profile: ProviderProfile,
): Promise<{ exchange: Exchange; denied: Response | null }> {
  const requestId = profile.newRequestId();
  const key = profile.key(request);
  const record = ctx.log.start({ id: requestId, provider: profile.provider, request, key });
  const exchange = createExchange(record, requestId, profile);
  const delay = firstByteDelay(request.headers);
  if (delay > 0) await sleep(delay);
  const denied =
    key === null || key === "" || key === "invalid" ? exchange.fail("unauthenticated", profile.authMessage(key)) : null;
  return { exchange, denied };
}

function createExchange(record: DemoRequestRecord, requestId: string, profile: ProviderProfile): Exchange {
  const headersFor = (contentType: string, extra?: Record<string, string>): Headers => {
    const headers = new Headers(profile.headers(requestId));
    headers.set("content-type", contentType);
    for (const [name, value] of Object.entries(extra ?? {})) headers.set(name, value);
    return headers;
  };
  return {
    record,
    requestId,
    fail(kind, message, extraHeaders) {
      const spec = profile.error(kind, message, requestId);
      record.status = spec.status;
      record.completed = true;
      const headers = headersFor(profile.jsonContentType, extraHeaders);
      if (kind === "rate_limit") headers.set("retry-after", "1");
      return new Response(JSON.stringify(spec.body), { status: spec.status, headers });
    },
    json(body, { controls, usage, pieces }) {
      const text = JSON.stringify(body);
      const headers = headersFor(profile.jsonContentType);
      record.status = 200;
      if (controls.scenario === "cut") {
        record.completed = false;
        return new Response(cutBody(text), { status: 200, headers });
      }
      record.completed = true;
      if (controls.scenario === "bad_json") return new Response(malformedJson(text), { status: 200, headers });
      record.usage = usage;
      record.outputChunks = pieces;
      return new Response(text, { status: 200, headers });
    },
    stream(frames, { controls, framing }) {
      const headers = headersFor(framing === "json-array" ? profile.jsonContentType : profile.streamContentType);
      if (framing !== "json-array") headers.set("cache-control", "no-cache");
      record.status = 200;
      record.stream = true;
      const body = frameStream(frames, {
        record,
        framing,
        delayMs: controls.delayMs,
        cut: controls.scenario === "cut",
        corrupt: controls.scenario === "bad_json",
      });
      return new Response(body, { status: 200, headers });
    },
  };
}

/** The request body as a JSON object, or null when it is not one. */
export async function readJsonObject(request: Request): Promise<JsonObject | null> {
  try {
    const parsed: unknown = JSON.parse(await request.text());
    return isRecord(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

/** The error response of an error scenario (rate_limit / server_error / overloaded), or null. */
export function scenarioFailure(exchange: Exchange, controls: DemoControls): Response | null {
  switch (scenarioError(controls.scenario)) {
    case "rate_limit":
      return exchange.fail("rate_limit", "Demo rate limit (scenario rate_limit). Retry after 1 second.");
    case "server_error":
      return exchange.fail("server_error", "Demo server error (scenario server_error).");
    case "overloaded":
      return exchange.fail("overloaded", "Demo overload (scenario overloaded).");
    default:
      return null;
  }
}

/** A positive integer field, undefined when absent, null when present but invalid. */
export function positiveInt(body: JsonObject, field: string): number | undefined | null {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  return typeof value === "number" && Number.isInteger(value) && value >= 1 ? value : null;
}
