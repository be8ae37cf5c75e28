// What a call is, read before the ledger is asked (proxy.ts, step 1). Nothing here refuses a
// call with a known key by itself: a malformed request is said to be so only once the ledger
// has found its key good (a stranger learns nothing about what Outlay accepts).
//
//   readCall ─┬─ forwardedPath: the raw path's segments, each decoded once and checked   path.ts
//             ├─ the body read under the size limit, parsed as a JSON object           body.ts
//             ├─ adapter.shape: endpoint, model, stream, output limit, answers (include_usage added)
//             ├─ collectDimensions: headers and body, validated
//             └─ the facts the ledger decides on: those, the prompt estimate, the client's address
import ipaddr from "ipaddr.js";
import { collectDimensions } from "../../shared/dimensions.ts";
import { AppError } from "../../shared/errors.ts";
import type { CallFacts } from "../ledger/index.ts";
import { carriesBody, parseJsonObject } from "./body.ts";
import { forwardedPath } from "./path.ts";
import type { CallShape, JsonObject, ProviderAdapter } from "./providers/types.ts";
import { estimateInputTokens } from "./record.ts";

/** A gateway route: the adapter of its wire format and the provider it names. */
export type Route = {
  adapter: ProviderAdapter;
  provider: string;
  /** how many segments of the request path are the route's prefix (/openai/v1: 2, /google: 1) */
  prefixSegments: number;
};

/** A well-formed call: the checked path, the body as parsed, its shape and the ledger's facts. */
export type ReadCall = { path: string; body: JsonObject | null; shape: CallShape; facts: CallFacts };

/** The one answer to every key problem (missing, malformed, unknown, revoked, expired). */
export const invalidKey = (): AppError => new AppError("invalid_api_key", "Incorrect or missing Outlay API key.");

export const keyInUrl = (): AppError =>
  new AppError(
    "invalid_api_key",
    "Outlay does not take keys in the URL (?key= and the like): URLs are written to request logs. Send the key in the header your SDK uses (Authorization, x-api-key or x-goog-api-key).",
  );

/** The client's address as the platform reports it, or null when it is not an IP address. */
function clientAddress(request: Request): string | null {
  const value = request.headers.get("cf-connecting-ip");
  return value && value.length <= 45 && ipaddr.isValid(value) ? value : null;
}

/** What the call is, from its path, body (`bytes` as read) and headers; an AppError when the
 * request is malformed. */
export function readCall(request: Request, url: URL, route: Route, bytes: Uint8Array | AppError): ReadCall | AppError {
  const path = forwardedPath(url.pathname, route.prefixSegments);
  if (path instanceof AppError) return path;
  if (bytes instanceof AppError) return bytes;
  let body: JsonObject | null = null;
  if (carriesBody(request.method)) {
    const json = parseJsonObject(bytes, request.headers.get("content-type"));
    if (json instanceof AppError) return json;
    body = json;
  }
  const shape = route.adapter.shape({ path, method: request.method, body });
  if (shape instanceof AppError) return shape;
  const dimensions = collectDimensions(request.headers, shape.bodyDimensions);
  if (dimensions instanceof AppError) return dimensions;
  const facts: CallFacts = {
    model: shape.model,
    endpoint: shape.endpoint,
    stream: shape.stream,
    metered: shape.metered,
    inputTokens: estimateInputTokens(bytes.byteLength, body),
    maxOutputTokens: shape.maxOutputTokens,
    outputs: shape.outputs,
    dimensions,
    source: clientAddress(request),
  };
  return { path, body, shape, facts };
}
