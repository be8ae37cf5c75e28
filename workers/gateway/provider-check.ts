// "Test connection" on /providers: one GET of the provider's model list with the stored credential,
// built the way the gateway builds upstream calls (the adapter's URL joining and auth header), and a
// verdict that names what happened without repeating the provider's body or the key.
//   OpenAI and OpenAI-compatible  GET {base}/models                 Authorization: Bearer
//   Anthropic                     GET {base}/models?limit=1000      x-api-key, anthropic-version
//   Google Gemini                 GET {base}/v1beta/models?pageSize=1000   x-goog-api-key
// (Known base URLs: https://api.openai.com/v1, https://api.anthropic.com/v1,
// https://generativelanguage.googleapis.com — the same bases the gateway joins call paths to.)
import { dataKeyring, open } from "../../shared/crypto.ts";
import { readAtMost } from "../../shared/streams.ts";
import { ledgerFor } from "../ledger/index.ts";
import { AppError } from "../../shared/errors.ts";
import { upstreamUrl } from "./path.ts";
import { ADAPTERS, KNOWN_PROVIDERS } from "./providers/registry.ts";
import type { WireFormat } from "../../shared/wire-format.ts";

export const CHECK_TIMEOUT_MS = 10_000;
/** A model list larger than this is not read to the end (the answer still counts as connected). */
const MAX_BODY_BYTES = 4 * 1024 * 1024;
const ANTHROPIC_VERSION = "2023-06-01";

export type CheckProblem =
  | "refused"
  | "not_found"
  | "rate_limited"
  | "provider_error"
  | "unexpected_status"
  | "redirected"
  | "not_a_model_list"
  | "timeout"
  | "unreachable"
  | "unreadable";

export type CheckResult =
  | { ok: true; status: number; ms: number; models: number | null; more: boolean }
  | { ok: false; problem: CheckProblem; status: number | null; ms: number };

export type CheckOptions = { fetch?: typeof fetch; timeoutMs?: number; now?: () => number };

const PATHS: Record<WireFormat, { path: string; query: Record<string, string> }> = {
  openai: { path: "/models", query: {} },
  anthropic: { path: "/models", query: { limit: "1000" } },
  google: { path: "/v1beta/models", query: { pageSize: "1000" } },
};

/** The model-listing request of a provider: URL and headers (the credential in its auth header);
 * null when the base URL cannot be joined to a path (built as the gateway builds its calls). */
export function modelsRequest(
  format: WireFormat,
  baseUrl: string,
  credential: string,
): { url: string; headers: Record<string, string> } | null {
  const adapter = ADAPTERS[format];
  const { path, query } = PATHS[format];
  const headers: Record<string, string> = { accept: "application/json", ...adapter.authHeaders(credential) };
  if (format === "anthropic") headers["anthropic-version"] = ANTHROPIC_VERSION;
  const url = upstreamUrl(baseUrl, path, new URLSearchParams(query));
  return url instanceof AppError ? null : { url, headers };
}

/** How many models a list body holds, and whether the provider has more pages; null if not a list. */
export function countModels(format: WireFormat, body: unknown): { count: number; more: boolean } | null {
  if (typeof body !== "object" || body === null) return null;
  const b = body as Record<string, unknown>;
  if (format === "google") {
    // proto3 JSON omits an empty list: an account without models answers {}.
    if (!Array.isArray(b.models) && Object.keys(b).length > 0) return null;
    const models = Array.isArray(b.models) ? b.models : [];
    return { count: models.length, more: typeof b.nextPageToken === "string" && b.nextPageToken !== "" };
  }
  if (!Array.isArray(b.data)) return null;
  return { count: b.data.length, more: b.has_more === true };
}

async function readCapped(res: Response): Promise<string | null> {
  const bytes = await readAtMost(res.body, MAX_BODY_BYTES);
  return bytes === null ? null : new TextDecoder().decode(bytes);
}

function problemFor(status: number, format: WireFormat, body: string): CheckProblem {
  if (status === 401 || status === 403) return "refused";
  // Gemini answers a bad key with 400 INVALID_ARGUMENT, reason API_KEY_INVALID.
  if (status === 400 && format === "google" && body.includes("API_KEY_INVALID")) return "refused";
  if (status === 404) return "not_found";
  if (status === 429) return "rate_limited";
  if (status >= 500) return "provider_error";
  if (status >= 300 && status < 400) return "redirected";
  return "unexpected_status";
}

/** Calls the provider's model list once, within `timeoutMs` (10 s), and says how it went. */
export async function checkConnection(
  target: { format: WireFormat; baseUrl: string; credential: string },
  options: CheckOptions = {},
): Promise<CheckResult> {
  const doFetch = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  const request = modelsRequest(target.format, target.baseUrl, target.credential);
  if (!request) return { ok: false, problem: "unreachable", status: null, ms: 0 };
  const { url, headers } = request;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, options.timeoutMs ?? CHECK_TIMEOUT_MS);
  const started = now();
  const elapsed = () => Math.max(0, Math.round(now() - started));
  try {
    const res = await doFetch(url, { method: "GET", headers, redirect: "manual", signal: controller.signal });
    const text = await readCapped(res);
    const ms = elapsed();
    if (res.status < 200 || res.status >= 300) {
      return { ok: false, problem: problemFor(res.status, target.format, text ?? ""), status: res.status, ms };
    }
    if (text === null) return { ok: true, status: res.status, ms, models: null, more: true };
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return { ok: false, problem: "not_a_model_list", status: res.status, ms };
    }
    const counted = countModels(target.format, parsed);
    if (!counted) return { ok: false, problem: "not_a_model_list", status: res.status, ms };
    return { ok: true, status: res.status, ms, models: counted.count, more: counted.more };
  } catch {
    // Nothing of the error is kept: a runtime's message may carry the URL (and so the host).
    return { ok: false, problem: timedOut ? "timeout" : "unreachable", status: null, ms: elapsed() };
  } finally {
    clearTimeout(timer);
  }
}

/** Tests a tenant's stored provider: its credential is unsealed in memory for this one call only.
 * Null when the tenant has no credential of that name. */
export async function checkStoredProvider(
  env: Env,
  tenantId: string,
  name: string,
  options: CheckOptions = {},
): Promise<CheckResult | null> {
  const connection = await ledgerFor(env, tenantId).providerConnection({ name });
  const baseUrl = connection?.baseUrl ?? KNOWN_PROVIDERS[name]?.baseUrl;
  if (!connection || !baseUrl) return null;
  let credential: string;
  try {
    credential = await open(dataKeyring(env.DATA_KEYS), connection.sealedCredential, `${tenantId}/${name}`);
  } catch {
    return { ok: false, problem: "unreadable", status: null, ms: 0 };
  }
  return checkConnection({ format: connection.format, baseUrl, credential }, options);
}

const PROBLEMS: Record<CheckProblem, string> = {
  refused: "the provider refused the key. Check that it is current and has access to the API.",
  not_found: "there is no model list at this base URL. Check the base URL (it usually ends in /v1).",
  rate_limited: "the provider is rate-limiting this key or its quota is used up.",
  provider_error: "the provider had an error of its own. Try again in a moment.",
  unexpected_status: "the provider did not accept the request.",
  redirected: "the base URL redirects elsewhere. Use the address it redirects to.",
  not_a_model_list: "the answer was not a model list. Check the base URL and the provider's API format.",
  timeout: `no answer within ${CHECK_TIMEOUT_MS / 1000} seconds.`,
  unreachable: "the provider could not be reached (name lookup or connection failed). Check the base URL.",
  unreadable: "the stored credential could not be decrypted (its data key is gone). Save the key again.",
};

/** One sentence for people: what happened, with the HTTP status and the time taken. */
export function describeCheck(result: CheckResult, count: (n: number) => string): string {
  if (result.ok) {
    const models =
      result.models === null
        ? "a very long model list"
        : `${result.more ? "at least " : ""}${count(result.models)} ${result.models === 1 ? "model" : "models"} listed`;
    return `Connected: HTTP ${result.status} in ${count(result.ms)} ms, ${models}.`;
  }
  const status = result.status === null ? "" : ` (HTTP ${result.status})`;
  const time = result.problem === "timeout" ? "" : ` after ${count(result.ms)} ms`;
  return `Failed${status}${time}: ${PROBLEMS[result.problem]}`;
}
