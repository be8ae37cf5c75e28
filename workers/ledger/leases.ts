// Lease mode, the ledger's side. A gateway isolate that serves a tenant in lease mode holds a
// lease: a copy of what admission reads (active keys, rules, settings, providers, price
// overrides) and a slice of each blocking budget and rate limit, so that most calls are
// admitted without a round trip. The slices are holds in the ledger (one per lease and budget),
// so leased money is never spent twice: strict and leased admissions see the same books.
//
// Each renewal (at least every LEASE_RENEW_MS while the isolate has traffic; the lease is
// usable for LEASE_TTL_MS after it arrives) reports the usage of the calls admitted from the
// lease, which are booked like any settlement, and tops the free slice back up to
// 1/LEASE_SHARE of what the budget has left. A revoked key or a changed rule reaches the
// isolate with the next renewal, at the latest LEASE_TTL_MS after the change.
import { newId } from "../../shared/ids.ts";
import { budgetCovers } from "./budgets.ts";
import type { LedgerParts } from "./parts.ts";
import type { LeaseGrant, LeaseReport } from "./types.ts";

/** The isolate admits from a lease for this long after it arrives. */
export const LEASE_TTL_MS = 2_000;
/** The isolate renews a lease this long after it arrived (while it has traffic). */
export const LEASE_RENEW_MS = 1_000;
/** A lease's holds outlive a vanished isolate by this much, then expire (usage events reconcile). */
export const LEASE_HOLD_TTL_MS = 60_000;
/** A lease's free slice is topped up to 1/LEASE_SHARE of what the budget has left. */
export const LEASE_SHARE = 8n;

/** Books a report and grants the next lease (null when the tenant is in strict mode). Runs in one transaction. */
export function renewLease(parts: LedgerParts, report: LeaseReport): LeaseGrant | null {
  const { catalog, rules, book, holds, limiter, outbox } = parts;
  const { now } = report;
  const settings = catalog.settings();
  const leaseId = report.leaseId ?? newId();
  holds.settle(report.events, settings.timeZone, now);
  outbox.auditRun(
    report.events.map((event) => ({
      at: event.startedAt,
      type: "call.admitted",
      actor: { kind: "key", id: event.keyId },
      requestId: event.requestId,
      subject: null,
      data: { provider: event.provider, model: event.model, admission: "lease", leaseId },
    })),
  );

  const leasing = settings.admissionMode === "lease";
  const grants: LeaseGrant["grants"] = [];
  for (const budget of rules.list("budget")) {
    const reported = report.budgets.find((b) => b.id === budget.id);
    const key = book.keyAt(budget, settings.timeZone, now);
    if (budget.spec.mode === "block") {
      // What the isolate spent from its slice is booked above; its hold shrinks by as much.
      let used = 0n;
      for (const event of report.events) {
        const attribution = {
          keyId: event.keyId,
          provider: event.provider,
          model: event.model,
          dimensions: event.dimensions,
        };
        if (budgetCovers(budget, attribution)) used += BigInt(event.costNanoUsd ?? 0);
      }
      const free = reported?.freeNano ?? 0n;
      const release = leasing ? (reported?.releaseNano ?? 0n) : free;
      holds.adjustLease(leaseId, budget, key, -(used + release), now, LEASE_HOLD_TTL_MS);
      const left = book.status(budget, settings.timeZone, now).remainingNano;
      const kept = free - release;
      const target = (left + kept) / LEASE_SHARE;
      let grant = leasing && target > kept ? target - kept : 0n;
      if (grant > left) grant = left > 0n ? left : 0n;
      if (grant > 0n) holds.adjustLease(leaseId, budget, key, grant, now, LEASE_HOLD_TTL_MS);
      grants.push({ id: budget.id, grantNano: grant, remainingNano: left - grant });
    } else {
      grants.push({
        id: budget.id,
        grantNano: 0n,
        remainingNano: book.status(budget, settings.timeZone, now).remainingNano,
      });
    }
  }
  const rateGrants: LeaseGrant["rateGrants"] = [];
  for (const limit of rules.list("rate_limit")) {
    const reported = report.rates.find((r) => r.id === limit.id);
    const giveBack = {
      requests: leasing ? (reported?.returnRequests ?? 0) : (reported?.requests ?? 0),
      tokens: leasing ? (reported?.returnTokens ?? 0) : (reported?.tokens ?? 0),
    };
    limiter.giveBack(limit, giveBack.requests, giveBack.tokens, now);
    const kept = {
      requests: (reported?.requests ?? 0) - giveBack.requests,
      tokens: (reported?.tokens ?? 0) - giveBack.tokens,
    };
    if (leasing) rateGrants.push({ id: limit.id, ...limiter.lend(limit, Number(LEASE_SHARE), kept, now) });
  }
  if (!leasing) return null;

  outbox.audit({
    at: now,
    type: "lease.granted",
    actor: { kind: "system" },
    requestId: null,
    subject: leaseId,
    data: {
      ttlMs: LEASE_TTL_MS,
      budgets: grants.map((g) => g.id),
      grantsNanoUsd: grants.map((g) => g.grantNano.toString()),
      reportedCalls: report.events.length,
    },
  });
  return {
    leaseId,
    ttlMs: LEASE_TTL_MS,
    keys: catalog.activeKeys(now),
    providers: catalog.providerConfigs(),
    priceOverrides: catalog.listOverrides(),
    settings,
    budgets: [...rules.list("budget")],
    policies: [...rules.list("policy")],
    rateLimits: [...rules.list("rate_limit")],
    grants,
    rateGrants,
  };
}
