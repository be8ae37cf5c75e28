// The hot path of one proxied call:
//
//   request ─┬─ parse key (routing part: tenant, key id) ── 401 if malformed
//            ├─ key hash ∥ read body under the size limit
//            ├─ learn: endpoint, model, stream, output limit, prompt estimate, dimensions
//            ├─ TenantLedger(tenant).admit(...)  one DO round trip, no D1: key, policies, rate
//            │    limits, budgets; holds the worst-case cost ── refusal in the provider's shape
//            ├─ credential (decrypted in memory); the policy's output limit added if needed
//            ├─ fetch upstream ── body streamed back through meteredBody (usage read on the side)
//            └─ after the last byte (waitUntil): price, one usage event to USAGE_QUEUE, settle
import type { Context } from "hono";
import ipaddr from "ipaddr.js";
import { dataKeyring, keyHash, open } from "../../shared/crypto.ts";
import { AppError } from "../../shared/errors.ts";
import { newRequestId } from "../../shared/ids.ts";
import { parseKey } from "../../shared/keys.ts";
import { checkBaseUrl } from "../../shared/upstream-url.ts";
import type { Outcome, UsageEvent } from "../../shared/usage.ts";
import { formatUsd } from "../../shared/money.ts";
import type { AdmitResult, Admitted, BudgetHeadroom, CallFacts, Refused } from "../ledger/index.ts";
import { parseJsonObject, readBody } from "./body.ts";
import { collectDimensions } from "../../shared/dimensions.ts";
import { admitCall, finishCall, ledgerOf } from "./admit.ts";
import { ADMISSION_HEADER } from "./fail-open.ts";
import { forwardedPath, hasCredentialParam, upstreamUrl } from "./path.ts";
import { KNOWN_PROVIDERS } from "./providers/registry.ts";
import type { CallShape, JsonObject, ProviderAdapter } from "./providers/types.ts";
import { buildEvent, estimateInputTokens, type CallRecord } from "./record.ts";
import { BUDGET_REMAINING_HEADER, REFUSAL_RULE_HEADER, refusal, relay } from "./relay.ts";

export const PASSTHROUGH_HEADER = "x-outlay-provider-key";

type GatewayContext = Context<{ Bindings: Env }>;

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

function upstreamHeaders(request: Request, auth: Record<string, string>): Headers {
  const headers = new Headers();
  for (const [name, value] of request.headers) {
    if (DROP_REQUEST.has(name) || name.startsWith("x-outlay-") || name.startsWith("cf-")) continue;
    headers.set(name, value);
  }
  for (const [name, value] of Object.entries(auth)) headers.set(name, value);
  return headers;
}

/** Response headers naming what refused the call and, for rate limits, when to retry. */
function refusalHeaders(refused: Refused): Record<string, string> {
  const headers: Record<string, string> = {};
  if (refused.ruleId) headers[REFUSAL_RULE_HEADER] = refused.ruleId;
  if (refused.retryAfterSeconds !== undefined) headers["retry-after"] = String(refused.retryAfterSeconds);
  return headers;
}

function budgetHeaders(budgets: readonly BudgetHeadroom[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const b of budgets) headers[`${BUDGET_REMAINING_HEADER}${b.id}`] = formatUsd(b.remainingNano);
  return headers;
}

/** The one answer to every key problem (missing, malformed, unknown, revoked, expired). */
const invalidKey = () => new AppError("invalid_api_key", "Incorrect or missing Outlay API key.");
const keyInUrl = () =>
  new AppError(
    "invalid_api_key",
    "Outlay does not take keys in the URL (?key= and the like): URLs are written to request logs. Send the key in the header your SDK uses (Authorization, x-api-key or x-goog-api-key).",
  );

/** The client's address as the platform reports it, or null when it is not an IP address. */
function clientAddress(request: Request): string | null {
  const value = request.headers.get("cf-connecting-ip");
  return value && value.length <= 45 && ipaddr.isValid(value) ? value : null;
}

type Learned = { body: JsonObject | null; shape: CallShape; dimensions: Record<string, string> };

/** What the call is, from its body and headers; an AppError when the request is malformed. */
function learn(
  request: Request,
  bytes: Uint8Array | AppError,
  adapter: ProviderAdapter,
  path: string | AppError,
  hasBody: boolean,
): Learned | AppError {
  if (path instanceof AppError) return path;
  if (bytes instanceof AppError) return bytes;
  let body: JsonObject | null = null;
  if (hasBody) {
    const json = parseJsonObject(bytes, request.headers.get("content-type"));
    if (json instanceof AppError) return json;
    body = json;
  }
  const shape = adapter.shape({ path, method: request.method, body });
  if (shape instanceof AppError) return shape;
  const dimensions = collectDimensions(request.headers, shape.bodyDimensions);
  if (dimensions instanceof AppError) return dimensions;
  return { body, shape, dimensions };
}

async function credentialFor(
  env: Env,
  tenantId: string,
  provider: string,
  admitted: Admitted,
  passthrough: string | null,
): Promise<string | AppError> {
  if (passthrough) {
    if (!admitted.allowPassthroughKeys) {
      return new AppError("forbidden", `This organisation does not allow provider keys in ${PASSTHROUGH_HEADER}.`);
    }
    return passthrough;
  }
  if (!admitted.provider) {
    return new AppError("provider_not_configured", `No credential is configured for provider "${provider}".`);
  }
  return open(dataKeyring(env.DATA_KEYS), admitted.provider.sealedCredential, `${tenantId}/${provider}`);
}

type Call = {
  adapter: ProviderAdapter;
  provider: string;
  /** how many segments of the request path are the route's prefix (/openai/v1: 2, /google: 1) */
  prefixSegments: number;
};

export async function proxyCall(c: GatewayContext, call: Call): Promise<Response> {
  const startedAt = Date.now();
  const requestId = newRequestId(startedAt);
  const { adapter, provider } = call;
  const request = c.req.raw;
  const url = new URL(request.url);

  if (hasCredentialParam(url.searchParams)) return refusal(adapter, keyInUrl(), requestId);
  const presented = adapter.readKey(request.headers);
  const parsed = parseKey(presented, "olk");
  if (!presented || !parsed) return refusal(adapter, invalidKey(), requestId);
  // The path that is checked and forwarded: validated segments of the raw path (path.ts).
  const path = forwardedPath(url.pathname, call.prefixSegments);
  const hasBody = request.method !== "GET" && request.method !== "HEAD";
  const ledger = ledgerOf(c.env, parsed.tenantId);

  const record: CallRecord = {
    requestId,
    tenantId: parsed.tenantId,
    keyId: parsed.id,
    provider,
    model: "",
    endpoint: "",
    stream: false,
    startedAt,
    dimensions: {},
    priceOverrides: [],
  };
  let admitted: Admitted | null = null;
  // One usage event per authenticated call, and the hold (if any) settled by it.
  const finish = (event: UsageEvent) => finishCall(c.executionCtx, c.env, ledger, parsed.tenantId, admitted, event);
  const refuseAfterAuth = (error: AppError, outcome: Outcome = "bad_request", headers: Record<string, string> = {}) => {
    finish(
      buildEvent(record, {
        status: error.status,
        outcome,
        usage: null,
        usageSource: "none",
        firstByteAt: null,
        endedAt: Date.now(),
      }),
    );
    return refusal(adapter, error, requestId, headers);
  };

  let admission: AdmitResult;
  let learned: Learned | AppError;
  let bytes: Uint8Array | AppError;
  let inputEstimate = 0;
  try {
    let hash: string;
    [hash, bytes] = await Promise.all([
      keyHash(c.env.KEY_PEPPER, presented),
      hasBody ? readBody(request) : Promise.resolve(new Uint8Array(0)),
    ]);
    learned = learn(request, bytes, adapter, path, hasBody);
    inputEstimate =
      learned instanceof AppError || bytes instanceof AppError
        ? 0
        : estimateInputTokens(bytes.byteLength, learned.body);
    const facts: CallFacts | null =
      learned instanceof AppError
        ? null
        : {
            model: learned.shape.model,
            endpoint: learned.shape.endpoint,
            stream: learned.shape.stream,
            metered: learned.shape.metered,
            inputTokens: inputEstimate,
            maxOutputTokens: learned.shape.maxOutputTokens,
            outputs: learned.shape.outputs,
            dimensions: learned.dimensions,
            source: clientAddress(request),
          };
    // One round trip decides the key, policies, rate limits and budgets; a malformed request
    // is only authenticated (so the key is checked before anything is said about the request).
    admission = await admitCall(c.executionCtx, c.env, ledger, parsed.tenantId, {
      keyId: parsed.id,
      keyHash: hash,
      provider,
      builtInProvider: Object.hasOwn(KNOWN_PROVIDERS, provider),
      requestId,
      now: Date.now(),
      call: facts,
    });
  } catch (error) {
    if (error instanceof AppError) return refusal(adapter, error, requestId);
    throw error;
  }
  if (!admission.ok && admission.code === "invalid_api_key") return refusal(adapter, invalidKey(), requestId);
  if (!(learned instanceof AppError)) {
    record.model = learned.shape.model;
    record.endpoint = learned.shape.endpoint;
    record.stream = learned.shape.stream;
    record.dimensions = learned.dimensions;
  }
  if (!admission.ok) {
    return refuseAfterAuth(new AppError(admission.code, admission.message), "refused", refusalHeaders(admission));
  }
  record.dimensions = admission.dimensions;
  record.priceOverrides = admission.priceOverrides;
  admitted = admission;
  if (learned instanceof AppError) return refuseAfterAuth(learned);
  const { shape } = learned;

  const baseUrl = admission.provider?.baseUrl ?? KNOWN_PROVIDERS[provider]?.baseUrl;
  if (!baseUrl) {
    return refuseAfterAuth(
      new AppError("unknown_provider", `Provider "${provider}" is not configured for this organisation.`),
    );
  }
  // A tenant's base URL was checked when stored; checked again here, so one stored before a rule
  // was tightened (a private or metadata address) is never called.
  if (admission.provider?.baseUrl) {
    const stale = checkBaseUrl(admission.provider.baseUrl, {
      allowLoopback: c.env.ALLOW_LOOPBACK_UPSTREAMS === "true",
    });
    if (stale) {
      return refuseAfterAuth(
        new AppError(
          "provider_not_configured",
          `The stored base URL of provider "${provider}" is no longer accepted (${stale.message}) Save the provider again with an allowed base URL.`,
        ),
      );
    }
  }
  let credential: string | AppError;
  try {
    credential = await credentialFor(
      c.env,
      parsed.tenantId,
      provider,
      admission,
      request.headers.get(PASSTHROUGH_HEADER),
    );
  } catch {
    return refuseAfterAuth(
      new AppError("internal_error", "The stored provider credential could not be read."),
      "upstream_error",
    );
  }
  if (credential instanceof AppError) return refuseAfterAuth(credential);

  let rewritten = shape.rewrittenBody;
  if (admission.injectMaxOutputTokens !== null && learned.body) {
    rewritten = adapter.withMaxOutputTokens(
      rewritten ?? learned.body,
      shape,
      admission.injectMaxOutputTokens,
      provider,
    );
  }
  // What was checked is what is sent: the URL from the checked path segments, and the body as
  // parsed (a duplicate key, say, cannot make the provider read another model or limit).
  const target = path instanceof AppError ? path : upstreamUrl(baseUrl, path, url.searchParams);
  if (target instanceof AppError) return refuseAfterAuth(target);
  const sentBody = rewritten ?? learned.body;
  let upstream: Response;
  try {
    upstream = await fetch(target, {
      method: request.method,
      headers: upstreamHeaders(request, adapter.authHeaders(credential)),
      body: sentBody ? JSON.stringify(sentBody) : undefined,
      // A redirect would carry the credential and the body to wherever it points.
      redirect: "manual",
    });
  } catch {
    return refuseAfterAuth(
      new AppError("upstream_unreachable", `The ${provider} API could not be reached.`),
      "upstream_unreachable",
    );
  }
  if (upstream.status >= 300 && upstream.status < 400) {
    await upstream.body?.cancel();
    return refuseAfterAuth(
      new AppError(
        "upstream_redirect",
        `The ${provider} API answered with a redirect (${upstream.status}), which Outlay never follows; check the provider's base URL.`,
      ),
      "upstream_error",
    );
  }
  return relay(upstream, {
    adapter,
    shape,
    record,
    requestId,
    emit: finish,
    inputEstimate,
    headers: admission.failedOpen
      ? { [ADMISSION_HEADER]: "fail-open" }
      : { ...budgetHeaders(admission.budgets), ...(admission.leased ? { [ADMISSION_HEADER]: "lease" } : {}) },
    credit: shape.stream ? admission.credit : null,
    draw: async (used, want) => (ledger ? ledger.draw(requestId, used, want) : 0n),
  });
}
