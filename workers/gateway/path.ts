// The path a call is checked against and forwarded with, taken from the raw request path one
// segment at a time — never from the router's decoded path, where "%5C" has become "\" and
// "%2F" may have become "/", which `fetch` would later turn into other path segments.
//
// Each raw segment is percent-decoded once and must then be 1-256 characters of the set that
// provider endpoints and model ids use (letters, digits and . _ ~ : @ + -), and not "." or "..".
// Those characters need no percent-encoding, so the path that is checked (endpoint, model) is
// byte for byte the path that is sent. Anything else — "\", "/", "%" (double encoding), ";",
// control characters, spaces, non-ASCII, overlong or broken UTF-8 — refuses the call.
import { AppError } from "../../shared/errors.ts";

export const MAX_SEGMENT = 256;
/** Longest raw request path the gateway reads (documented in docs/gateway.md). */
export const MAX_PATH = 2048;
const SEGMENT = /^[A-Za-z0-9._~:@+-]{1,256}$/;

const refused = () =>
  new AppError(
    "bad_request",
    "The request path has a segment Outlay does not forward (an encoded slash, backslash, dot segment, '%' or a character outside A-Z a-z 0-9 . _ ~ : @ + -).",
  );

/** One segment, percent-decoded and checked; null when it cannot be forwarded as it is. */
function segment(raw: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return null;
  }
  if (!SEGMENT.test(decoded) || decoded === "." || decoded === "..") return null;
  return decoded;
}

/**
 * The path after the first `skip` segments of a raw (still percent-encoded) URL path, e.g.
 * ("/openai/v1/chat/completions", 2) → "/chat/completions"; "/" when nothing follows. Every
 * segment, the skipped ones too, must pass the check above.
 */
export function forwardedPath(rawPath: string, skip: number): string | AppError {
  if (rawPath.length > MAX_PATH) return refused();
  const parts = rawPath.split("/").slice(1);
  const checked: string[] = [];
  for (const raw of parts) {
    const part = segment(raw);
    if (part === null) return refused();
    checked.push(part);
  }
  return `/${checked.slice(skip).join("/")}`;
}

/** Query parameters that carry credentials in some provider's API: never forwarded. */
const CREDENTIAL_PARAMS = new Set(["key", "api_key", "api-key", "apikey", "access_token", "token", "x-goog-api-key"]);

export function hasCredentialParam(query: URLSearchParams): boolean {
  for (const name of query.keys()) if (CREDENTIAL_PARAMS.has(name.toLowerCase())) return true;
  return false;
}

/**
 * The upstream URL: the base URL's own path, then the checked path, then the query without any
 * credential parameter. Refused unless the URL `fetch` will send has exactly that path (so no
 * parser along the way can have turned it into another).
 */
export function upstreamUrl(baseUrl: string, path: string, query: URLSearchParams): string | AppError {
  const kept = new URLSearchParams();
  for (const [name, value] of query) if (!CREDENTIAL_PARAMS.has(name.toLowerCase())) kept.append(name, value);
  const base = baseUrl.replace(/\/+$/, "");
  const text = kept.toString();
  let parsed: URL;
  let basePath: string;
  try {
    parsed = new URL(`${base}${path}${text ? `?${text}` : ""}`);
    basePath = new URL(base).pathname.replace(/\/+$/, "");
  } catch {
    return refused();
  }
  return parsed.pathname === `${basePath}${path}` ? parsed.href : refused();
}
