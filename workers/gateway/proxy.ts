// The hot path of one proxied call:
//
//   request ─┬─ parse key (routing part: tenant, key id) ── 401 if malformed
//            ├─ TenantLedger(tenant).admit(key hash, provider)   ┐ in parallel:
//            ├─ read body under the size limit                   ┘ one DO round trip, no D1
//            ├─ shape: endpoint, model, stream; dimensions; credential (decrypted in memory)
//            ├─ fetch upstream ── body streamed back through meteredBody (usage read on the side)
//            └─ after the last byte (waitUntil): price, one usage event to USAGE_QUEUE
import type { Context } from "hono";
import { dataKeyring, keyHash, open } from "../../shared/crypto.ts";
import { AppError } from "../../shared/errors.ts";
import { newRequestId } from "../../shared/ids.ts";
import { parseKey } from "../../shared/keys.ts";
import type { Outcome, UsageEvent } from "../../shared/usage.ts";
import type { Admitted, AdmitResult } from "../ledger/types.ts";
import { parseJsonObject, readBody } from "./body.ts";
import { collectDimensions } from "./dimensions.ts";
import { KNOWN_PROVIDERS } from "./providers/registry.ts";
import type { JsonObject, ProviderAdapter } from "./providers/types.ts";
import { buildEvent, estimateTokens, sendEvent, type CallRecord } from "./record.ts";
import { refusal, relay } from "./relay.ts";

export const PASSTHROUGH_HEADER = "x-outlay-provider-key";

type GatewayContext = Context<{ Bindings: Env }>;

/** Client headers never forwarded upstream: keys, cookies, hop-by-hop, Outlay's own, platform. */
const DROP_REQUEST = new Set([
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

function upstreamHeaders(request: Request, adapter: ProviderAdapter, auth: Record<string, string>): Headers {
  const headers = new Headers();
  const drop = new Set(adapter.keyHeaders);
  for (const [name, value] of request.headers) {
    if (DROP_REQUEST.has(name) || drop.has(name) || name.startsWith("x-outlay-") || name.startsWith("cf-")) continue;
    headers.set(name, value);
  }
  for (const [name, value] of Object.entries(auth)) headers.set(name, value);
  return headers;
}

async function admit(env: Env, tenantId: string, keyId: string, hash: string, provider: string): Promise<AdmitResult> {
  try {
    const ledger = env.TENANT_LEDGER.get(env.TENANT_LEDGER.idFromName(tenantId));
    return await ledger.admit({ keyId, keyHash: hash, provider, now: Date.now() });
  } catch {
    throw new AppError("ledger_unavailable", "Outlay could not check this request and refused it; retry shortly.");
  }
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
  /** path after the provider prefix */
  path: string;
};

export async function proxyCall(c: GatewayContext, call: Call): Promise<Response> {
  const startedAt = Date.now();
  const requestId = newRequestId(startedAt);
  const { adapter, provider } = call;
  const request = c.req.raw;
  const url = new URL(request.url);

  const presented = adapter.readKey(request.headers, url);
  const parsed = parseKey(presented, "olk");
  if (!presented || !parsed) {
    return refusal(adapter, new AppError("invalid_api_key", "Incorrect or missing Outlay API key."), requestId);
  }
  const hasBody = request.method !== "GET" && request.method !== "HEAD";
  let admission: AdmitResult;
  let bodyBytes: Uint8Array | AppError;
  try {
    [admission, bodyBytes] = await Promise.all([
      keyHash(c.env.KEY_PEPPER, presented).then((hash) => admit(c.env, parsed.tenantId, parsed.id, hash, provider)),
      hasBody ? readBody(request) : Promise.resolve(new Uint8Array(0)),
    ]);
  } catch (error) {
    if (error instanceof AppError) return refusal(adapter, error, requestId);
    throw error;
  }
  if (!admission.ok) {
    return refusal(adapter, new AppError("invalid_api_key", "Incorrect or missing Outlay API key."), requestId);
  }

  const record: CallRecord = {
    requestId,
    tenantId: parsed.tenantId,
    keyId: parsed.id,
    provider,
    model: "",
    endpoint: "",
    stream: false,
    startedAt,
    dimensions: { ...admission.key.dimensions },
    priceOverrides: admission.priceOverrides,
  };
  const emit = (event: UsageEvent) =>
    c.executionCtx.waitUntil(sendEvent(c.env.USAGE_QUEUE as Queue<UsageEvent>, event));
  const refuseAfterAuth = (error: AppError, outcome: Outcome = "bad_request") => {
    emit(
      buildEvent(record, {
        status: error.status,
        outcome,
        usage: null,
        usageSource: "none",
        firstByteAt: null,
        endedAt: Date.now(),
      }),
    );
    return refusal(adapter, error, requestId);
  };

  if (bodyBytes instanceof AppError) return refuseAfterAuth(bodyBytes);
  let body: JsonObject | null = null;
  if (hasBody) {
    const json = parseJsonObject(bodyBytes, request.headers.get("content-type"));
    if (json instanceof AppError) return refuseAfterAuth(json);
    body = json;
  }
  const shape = adapter.shape({ path: call.path, method: request.method, body });
  if (shape instanceof AppError) return refuseAfterAuth(shape);
  record.model = shape.model;
  record.endpoint = shape.endpoint;
  record.stream = shape.stream;

  const dimensions = collectDimensions(request.headers, admission.key.dimensions, shape.bodyDimensions);
  if (dimensions instanceof AppError) return refuseAfterAuth(dimensions);
  record.dimensions = dimensions;

  const baseUrl = admission.provider?.baseUrl ?? KNOWN_PROVIDERS[provider]?.baseUrl;
  if (!baseUrl) {
    return refuseAfterAuth(
      new AppError("unknown_provider", `Provider "${provider}" is not configured for this organisation.`),
    );
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

  const upstreamBody = shape.rewrittenBody ? JSON.stringify(shape.rewrittenBody) : hasBody ? bodyBytes : undefined;
  let upstream: Response;
  try {
    upstream = await fetch(adapter.upstreamUrl(baseUrl, call.path, url.searchParams), {
      method: request.method,
      headers: upstreamHeaders(request, adapter, adapter.authHeaders(credential)),
      body: upstreamBody,
    });
  } catch {
    return refuseAfterAuth(
      new AppError("upstream_unreachable", `The ${provider} API could not be reached.`),
      "upstream_unreachable",
    );
  }
  // The event is sent when the body ends, which may be after this handler returned.
  const { promise: ended, resolve: emitLater } = Promise.withResolvers<UsageEvent>();
  c.executionCtx.waitUntil(ended.then((event) => sendEvent(c.env.USAGE_QUEUE as Queue<UsageEvent>, event)));
  return relay(upstream, {
    adapter,
    shape,
    record,
    requestId,
    emit: emitLater,
    inputEstimate: estimateTokens(bodyBytes.byteLength),
  });
}
