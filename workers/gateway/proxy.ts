// The hot path of one proxied call, as a sequence of steps (each in its own file):
//
//   request ─┬─ 1 read: a key in the URL, or none/malformed in the headers ── 401
//            │    key hash ∥ body read under the size limit; readCall: path, body, shape,
//            │    dimensions, prompt estimate                                   read-call.ts
//            ├─ 2 admit: TenantLedger(tenant).admit(...), one DO round trip and no D1 (or the
//            │    lease, or a fail-open memory): key, policies, rate limits, budgets, the hold
//            │    ── an unknown key 401; a ledger that cannot answer 503         admit.ts
//            │  from here the key is good: the call's record is built, and every answer below
//            │  is accounted by one usage event                                  record.ts
//            │    ── a refusal, or a malformed request, in the provider's shape
//            ├─ 3 forward: base URL, credential (opened in memory), the checked URL, the body as
//            │    parsed (a policy's output limit added); a 3xx is never followed   forward.ts
//            └─ 4 relay and meter: the answer streamed back while usage is read on the side;
//                 after the last byte (waitUntil): price, usage event, settle    relay.ts
import type { Context } from "hono";
import { keyHash } from "../../shared/crypto.ts";
import { AppError } from "../../shared/errors.ts";
import { newRequestId } from "../../shared/ids.ts";
import { parseKey } from "../../shared/keys.ts";
import type { Outcome, UsageEvent } from "../../shared/usage.ts";
import { admitCall, drawFrom, finishCall, ledgerOf } from "./admit.ts";
import { requestBytes } from "./body.ts";
import { credentialFor, PASSTHROUGH_HEADER } from "./credential.ts";
import { baseUrlFor, redirected, unreachable, upstreamInit } from "./forward.ts";
import { hasCredentialParam, upstreamUrl } from "./path.ts";
import { KNOWN_PROVIDERS } from "./providers/registry.ts";
import { invalidKey, keyInUrl, readCall, type Route } from "./read-call.ts";
import { callRecord, refusalEvent } from "./record.ts";
import { admissionHeaders, refusal, refusalHeaders, relay } from "./relay.ts";

type GatewayContext = Context<{ Bindings: Env }>;

export async function proxyCall(c: GatewayContext, route: Route): Promise<Response> {
  const startedAt = Date.now();
  const requestId = newRequestId(startedAt);
  const { adapter, provider } = route;
  const request = c.req.raw;
  const url = new URL(request.url);

  // 1. Read the call. Without a well-formed key nothing else is looked at.
  if (hasCredentialParam(url.searchParams)) return refusal(adapter, keyInUrl(), requestId);
  const presented = adapter.readKey(request.headers);
  const key = parseKey(presented, "olk");
  if (!presented || !key) return refusal(adapter, invalidKey(), requestId);
  const [hash, bytes] = await Promise.all([keyHash(c.env.KEY_PEPPER, presented), requestBytes(request)]);
  const call = readCall(request, url, route, bytes);
  const facts = call instanceof AppError ? null : call.facts;

  // 2. Admit. One round trip decides the key, policies, rate limits and budgets; a malformed
  //    request is only authenticated (so the key is checked before anything is said about it).
  const ledger = ledgerOf(c.env, key.tenantId);
  const admission = await admitCall(c.executionCtx, c.env, ledger, key.tenantId, {
    keyId: key.id,
    keyHash: hash,
    provider,
    builtInProvider: Object.hasOwn(KNOWN_PROVIDERS, provider),
    requestId,
    now: Date.now(),
    call: facts,
  });
  if (admission instanceof AppError) return refusal(adapter, admission, requestId);
  if (!admission.ok && admission.code === "invalid_api_key") return refusal(adapter, invalidKey(), requestId);

  // The key is good: every answer from here on is accounted, by one usage event on this record.
  const record = callRecord(requestId, startedAt, key.tenantId, key.id, provider, facts, admission);
  const admitted = admission.ok ? admission : null;
  const finish = (event: UsageEvent) => finishCall(c.executionCtx, c.env, ledger, key.tenantId, admitted, event);
  const refuse = (error: AppError, outcome: Outcome = "bad_request", headers: Record<string, string> = {}) => {
    finish(refusalEvent(record, error.status, outcome));
    return refusal(adapter, error, requestId, headers);
  };
  if (!admission.ok) {
    return refuse(new AppError(admission.code, admission.message), "refused", refusalHeaders(admission));
  }
  if (call instanceof AppError) return refuse(call);

  // 3. Forward: what was checked is what is sent.
  const baseUrl = baseUrlFor(c.env, provider, admission);
  if (baseUrl instanceof AppError) return refuse(baseUrl);
  const passthrough = request.headers.get(PASSTHROUGH_HEADER);
  const credential = await credentialFor(c.env, key.tenantId, provider, admission, passthrough);
  // A stored credential that cannot be opened is Outlay's failure, not the request's.
  if (credential instanceof AppError) {
    return refuse(credential, credential.code === "internal_error" ? "upstream_error" : "bad_request");
  }
  const target = upstreamUrl(baseUrl, call.path, url.searchParams);
  if (target instanceof AppError) return refuse(target);
  let upstream: Response;
  try {
    upstream = await fetch(target, upstreamInit(request, adapter, provider, call, admission, credential));
  } catch {
    return refuse(unreachable(provider), "upstream_unreachable");
  }
  const redirect = redirected(upstream, provider);
  if (redirect) {
    await upstream.body?.cancel();
    return refuse(redirect, "upstream_error");
  }

  // 4. Relay the answer and meter it; finish() runs once, when the body ends.
  const { shape } = call;
  return relay(upstream, {
    adapter,
    shape,
    record,
    requestId,
    emit: finish,
    inputEstimate: call.facts.inputTokens,
    headers: admissionHeaders(admission),
    credit: shape.stream ? admission.credit : null,
    draw: drawFrom(ledger, requestId),
  });
}
