// `admit`, the ledger's side of a proxied call, in one transaction with no D1 query: the key
// (its secret, revoked, expired), the provider, then decide() (admission.ts) for policies, rate
// limits and budgets; an admitted call's worst case is held (holds.ts) and every decision about
// the tenant's own key is an audit event (call.admitted / call.refused); when the ledger is busy,
// written with the other calls decided before its next turn as one outbox row.
import { decide } from "./admission.ts";
import { matchSecret } from "./key-secret.ts";
import { AUDIT_FLUSH_MS, type LedgerParts } from "./parts.ts";
import type { AdmitRequest, AdmitResult, Refused } from "./types.ts";

/**
 * Decides the call, then answers once its audit event is stored (at once, or when the ledger is
 * busy in one run with the decisions made meanwhile: Outbox.deferAudit) and the alarm will send
 * it soon.
 */
export async function admit(parts: LedgerParts, request: AdmitRequest): Promise<AdmitResult> {
  const { result, audited } = admitCall(parts, request);
  await Promise.all([audited, parts.wakeBy(request.now + AUDIT_FLUSH_MS)]);
  return result;
}

type Decided = { result: AdmitResult; audited: Promise<void> | null };

function admitCall(parts: LedgerParts, request: AdmitRequest): Decided {
  const { catalog, rules } = parts;
  const { now, call } = request;
  const key = catalog.key(request.keyId);
  const secret = key
    ? matchSecret(
        { hash: key.row.hash, previousHash: key.row.previous_hash, previousUntil: key.row.previous_until },
        request.keyHash,
        now,
      )
    : "none";
  const reason =
    !key || secret === "none"
      ? "unknown"
      : key.row.revoked_at !== null && key.row.revoked_at <= now
        ? "revoked"
        : key.row.expires_at !== null && key.row.expires_at <= now
          ? "expired"
          : secret === "rotated"
            ? "rotated"
            : null;
  if (!key || reason) {
    const refused: Refused = {
      ok: false,
      code: "invalid_api_key",
      reason: reason ?? "unknown",
      message: "Incorrect or missing Outlay API key.",
    };
    // An unknown key id or a wrong secret is not the tenant's key: nothing is recorded for it.
    return { result: refused, audited: key && reason !== "unknown" ? auditRefusal(parts, request, refused) : null };
  }
  const settings = catalog.settings();
  const base = {
    ok: true as const,
    key: { id: key.row.id, dimensions: key.dimensions },
    provider: catalog.provider(request.provider),
    allowPassthroughKeys: settings.allowPassthroughKeys,
    priceOverrides: catalog.overridesFor(request.provider),
    leaseMode: settings.admissionMode === "lease",
  };
  if (call && !base.provider && !request.builtInProvider) {
    const refused: Refused = {
      ok: false,
      code: "unknown_provider",
      message: `Provider "${request.provider}" is not configured for this organisation.`,
    };
    return { result: refused, audited: auditRefusal(parts, request, refused) };
  }
  if (!call)
    return {
      result: {
        ...base,
        dimensions: key.dimensions,
        injectMaxOutputTokens: null,
        heldNano: 0n,
        held: false,
        budgets: [],
        credit: null,
        failOpen: false,
      },
      audited: null,
    };

  const take = decide(
    {
      budgets: rules.list("budget"),
      policies: rules.list("policy"),
      rateLimits: rules.list("rate_limit"),
      book: parts.book,
      limiter: parts.limiter,
      timeZone: settings.timeZone,
      priceOverrides: base.priceOverrides,
    },
    base.key,
    request.provider,
    call,
    now,
  );
  if ("ok" in take) return { result: take, audited: auditRefusal(parts, request, take) };
  const held = parts.storage.transactionSync(() => parts.holds.open(request.requestId, key.row.id, take, now));
  const audited = parts.outbox.deferAudit({
    at: now,
    type: "call.admitted",
    actor: { kind: "key", id: key.row.id },
    requestId: request.requestId,
    subject: null,
    data: {
      provider: request.provider,
      model: call.model,
      heldNanoUsd: take.amount.toString(),
      tokens: take.tokens,
      budgets: take.budgets.map((b) => b.budget.id),
    },
  });
  return {
    result: {
      ...base,
      dimensions: take.dimensions,
      injectMaxOutputTokens: take.injectMaxOutputTokens,
      heldNano: take.amount,
      held,
      budgets: take.headroom,
      credit: take.credit,
      failOpen: take.failOpen,
    },
    audited,
  };
}

function auditRefusal(parts: LedgerParts, request: AdmitRequest, refused: Refused): Promise<void> {
  return parts.outbox.deferAudit({
    at: request.now,
    type: "call.refused",
    actor: { kind: "key", id: request.keyId },
    requestId: request.requestId,
    subject: refused.ruleId ?? null,
    data: {
      code: refused.code,
      reason: refused.reason ?? null,
      provider: request.provider,
      model: request.call?.model ?? null,
    },
  });
}
