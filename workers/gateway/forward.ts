// What is sent upstream, and where (proxy.ts, step 3). What was checked is what is sent:
//
//   baseUrlFor    ── the tenant's stored base URL, checked again (a rule may have tightened since it
//                    was stored), or the built-in provider's
//   upstreamUrl   ── the checked path segments on that base URL, credential parameters dropped  path.ts
//   upstreamInit  ── the client's headers less every credential, hop-by-hop, Outlay and platform
//                    header, plus the provider's auth; the body as parsed (a duplicate key cannot
//                    make the provider read another model or limit), with a policy's output limit
//   redirected    ── a 3xx is never followed: it would carry the credential and the body along
import { AppError } from "../../shared/errors.ts";
import { checkBaseUrl } from "../../shared/upstream-url.ts";
import type { Admitted } from "../ledger/index.ts";
import { KNOWN_PROVIDERS } from "./providers/registry.ts";
import type { ProviderAdapter } from "./providers/types.ts";
import type { ReadCall } from "./read-call.ts";

/** Headers that carry a credential in some provider's API: never forwarded on any route (the
 * adapter then sets the provider's own from the stored credential). */
const CREDENTIAL_HEADERS = [
  "authorization",
  "proxy-authorization",
  "x-api-key",
  "x-goog-api-key",
  "api-key",
  "ocp-apim-subscription-key",
];

/** Client headers never forwarded upstream: keys, cookies, hop-by-hop, Outlay's own, platform. */
const DROP_REQUEST = new Set([
  ...CREDENTIAL_HEADERS,
  "host",
  "cookie",
  "content-length",
  "connection",
  "keep-alive",
  "transfer-encoding",
  "te",
  "upgrade",
  "proxy-authorization",
  "accept-encoding",
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
  "x-real-ip",
  "true-client-ip",
]);

/** Stored base URLs this isolate has checked, with the answer: a check is a pure function of the
 * URL and the loopback switch, and its rules change only with a deployment (a new isolate). */
const checked = new Map<string, AppError | null>();
const CHECKED_MAX = 1_000;

function recheck(stored: string, allowLoopback: boolean): AppError | null {
  const key = `${allowLoopback ? "1" : "0"}${stored}`;
  let answer = checked.get(key);
  if (answer === undefined) {
    answer = checkBaseUrl(stored, { allowLoopback });
    if (checked.size >= CHECKED_MAX) checked.clear();
    checked.set(key, answer);
  }
  return answer;
}

/** The base URL the call goes to; an AppError when there is none or the stored one is no longer allowed. */
export function baseUrlFor(env: Env, provider: string, admitted: Admitted): string | AppError {
  const stored = admitted.provider?.baseUrl;
  const baseUrl = stored ?? KNOWN_PROVIDERS[provider]?.baseUrl;
  if (!baseUrl) {
    return new AppError("unknown_provider", `Provider "${provider}" is not configured for this organisation.`);
  }
  if (!stored) return baseUrl;
  // Checked when stored; checked again here, so one stored before a rule was tightened (a private
  // or metadata address) is never called.
  const stale = recheck(stored, env.ALLOW_LOOPBACK_UPSTREAMS === "true");
  if (!stale) return stored;
  return new AppError(
    "provider_not_configured",
    `The stored base URL of provider "${provider}" is no longer accepted (${stale.message}) Save the provider again with an allowed base URL.`,
  );
}

function upstreamHeaders(request: Request, auth: Record<string, string>): Headers {
  const headers = new Headers();
  for (const [name, value] of request.headers) {
    if (DROP_REQUEST.has(name) || name.startsWith("x-outlay-") || name.startsWith("cf-")) continue;
    headers.set(name, value);
  }
  for (const [name, value] of Object.entries(auth)) headers.set(name, value);
  return headers;
}

/** The upstream request: method, filtered headers with the provider's auth, the body to send. */
export function upstreamInit(
  request: Request,
  adapter: ProviderAdapter,
  provider: string,
  call: ReadCall,
  admitted: Admitted,
  credential: string,
): RequestInit {
  const { body, shape } = call;
  let sent = shape.rewrittenBody ?? body;
  if (admitted.injectMaxOutputTokens !== null && body) {
    sent = adapter.withMaxOutputTokens(sent ?? body, shape, admitted.injectMaxOutputTokens, provider);
  }
  return {
    method: request.method,
    headers: upstreamHeaders(request, adapter.authHeaders(credential)),
    body: sent ? JSON.stringify(sent) : undefined,
    // A redirect would carry the credential and the body to wherever it points.
    redirect: "manual",
  };
}

export const unreachable = (provider: string): AppError =>
  new AppError("upstream_unreachable", `The ${provider} API could not be reached.`);

/** A redirect from the provider (never followed), as the error to answer; null otherwise. */
export function redirected(upstream: Response, provider: string): AppError | null {
  if (upstream.status < 300 || upstream.status >= 400) return null;
  return new AppError(
    "upstream_redirect",
    `The ${provider} API answered with a redirect (${upstream.status}), which Outlay never follows; check the provider's base URL.`,
  );
}
