// Lease mode, the gateway isolate's side (the ledger's side and the bounds: ledger/leases.ts).
// Per tenant this isolate keeps its lease and admits calls from it with the same decision the
// ledger makes (admission.ts), against the lease's slices instead of the ledger's books. A call
// the lease cannot decide alone (unknown or wrong key, a refusal, a stream that needs draw-down,
// a budget without a slice, a slice too small) goes to the ledger as in strict mode. Calls
// admitted here are reported, with their usage events, at the next renewal.
import { AppError } from "../../shared/errors.ts";
import type { UsageEvent } from "../../shared/usage.ts";
import {
  type AdmitRequest,
  type Admitted,
  decide,
  LEASE_RENEW_MS,
  type LeaseGrant,
  type LeaseReport,
  type LocalHold,
  matchSecret,
  type RateView,
  type SpendView,
} from "../ledger/index.ts";

type Slice = { free: bigint; remaining: bigint; granted: bigint };

type Lease = {
  grant: LeaseGrant;
  receivedAt: number;
  expiresAt: number;
  keys: Map<string, LeaseGrant["keys"][number]>;
  slices: Map<string, Slice>;
  rates: Map<string, { requests: number; tokens: number }>;
};

type TenantState = {
  lease: Lease | null;
  pending: UsageEvent[];
  renewing: Promise<void> | null;
  /** a renewal is scheduled for the events still pending */
  scheduled: boolean;
};

const tenants = new Map<string, TenantState>();
/** Pending events past this many are reported at once. */
const REPORT_BATCH = 100;

function stateOf(tenantId: string): TenantState {
  let state = tenants.get(tenantId);
  if (!state) {
    state = { lease: null, pending: [], renewing: null, scheduled: false };
    tenants.set(tenantId, state);
  }
  return state;
}

function spendView(lease: Lease): SpendView {
  return {
    // A blocking budget has what is left of the slice; an alerting one what the ledger said.
    spent(budget) {
      const slice = lease.slices.get(budget.id);
      const left = !slice ? 0n : budget.spec.mode === "block" ? slice.free : slice.remaining;
      return BigInt(budget.spec.limitNano) - left;
    },
    held: () => 0n,
    // Leased calls are booked by the ledger when reported; the isolate needs no window keys.
    keyAt: () => 0,
  };
}

function rateView(lease: Lease): RateView {
  return {
    check(limits, tokens) {
      for (const limit of limits) {
        const lent = lease.rates.get(limit.id);
        if (!lent || lent.requests < 1 || lent.tokens < tokens) {
          return { ok: false, limit, retryAfterSeconds: 1, message: "the lease's share is used up" };
        }
      }
      return { ok: true };
    },
  };
}

/** The admission from this isolate's lease, or null when the ledger must decide. */
export function admitFromLease(tenantId: string, request: AdmitRequest): Admitted | null {
  const lease = tenants.get(tenantId)?.lease;
  const { call, now } = request;
  if (!lease || !call || now >= lease.expiresAt) return null;
  const key = lease.keys.get(request.keyId);
  // The current secret, or a rotated key's previous one within its grace (else the ledger decides).
  const secret = key ? matchSecret(key, request.keyHash, now) : "none";
  if (!key || (secret !== "current" && secret !== "previous") || (key.expiresAt !== null && key.expiresAt <= now)) {
    return null;
  }
  const { grant } = lease;
  const overrides = grant.priceOverrides.filter((o) => o.provider === request.provider);
  const take = decide(
    {
      budgets: grant.budgets,
      policies: grant.policies,
      rateLimits: grant.rateLimits,
      book: spendView(lease),
      limiter: rateView(lease),
      timeZone: grant.settings.timeZone,
      priceOverrides: overrides,
    },
    { id: key.id, dimensions: key.dimensions },
    request.provider,
    call,
    now,
  );
  if ("ok" in take || take.credit) return null;
  if (take.budgets.some((b) => !lease.slices.has(b.budget.id))) return null;
  const blocking = take.budgets.filter((b) => b.budget.spec.mode === "block").map((b) => b.budget.id);
  for (const b of take.budgets) {
    const slice = lease.slices.get(b.budget.id);
    if (!slice) continue;
    if (b.budget.spec.mode === "block") slice.free -= take.amount;
    slice.remaining -= take.amount;
  }
  for (const limit of take.limits) {
    const lent = lease.rates.get(limit.id);
    if (!lent) continue;
    lent.requests -= 1;
    lent.tokens -= take.tokens;
  }
  const leased: LocalHold = {
    leaseId: grant.leaseId,
    amount: take.amount,
    budgetIds: blocking,
    tokens: take.tokens,
    limitIds: take.limits.map((l) => l.id),
  };
  return {
    ok: true,
    key: { id: key.id, dimensions: key.dimensions },
    provider: grant.providers[request.provider] ?? null,
    allowPassthroughKeys: grant.settings.allowPassthroughKeys,
    priceOverrides: overrides,
    dimensions: take.dimensions,
    injectMaxOutputTokens: take.injectMaxOutputTokens,
    heldNano: take.amount,
    held: false,
    budgets: take.budgets.map((b) => ({
      id: b.budget.id,
      remainingNano: lease.slices.get(b.budget.id)?.remaining ?? 0n,
    })),
    credit: null,
    failOpen: take.failOpen,
    leaseMode: true,
    leased,
  };
}

/** A call admitted from the lease ended: what it did not use goes back to the slices. */
export function settleFromLease(tenantId: string, hold: LocalHold, event: UsageEvent): void {
  const state = stateOf(tenantId);
  state.pending.push(event);
  const lease = state.lease;
  if (!lease || lease.grant.leaseId !== hold.leaseId) return;
  const unused = hold.amount - BigInt(event.costNanoUsd ?? 0);
  for (const id of hold.budgetIds) {
    const slice = lease.slices.get(id);
    if (!slice) continue;
    slice.free += unused;
    slice.remaining += unused;
  }
  const unusedTokens = hold.tokens - event.usage.inputTokens - event.usage.outputTokens;
  if (unusedTokens > 0) {
    for (const id of hold.limitIds) {
      const lent = lease.rates.get(id);
      if (lent) lent.tokens += unusedTokens;
    }
  }
}

function apply(state: TenantState, grant: LeaseGrant | null, receivedAt: number): void {
  if (!grant) {
    state.lease = null;
    return;
  }
  const previous = state.lease?.grant.leaseId === grant.leaseId ? state.lease : null;
  const slices = new Map<string, Slice>();
  for (const g of grant.grants) {
    const before = previous?.slices.get(g.id);
    const free = (before?.free ?? 0n) + g.grantNano;
    slices.set(g.id, { free, remaining: g.remainingNano + free, granted: free });
  }
  const rates = new Map<string, { requests: number; tokens: number }>();
  for (const r of grant.rateGrants) {
    const before = previous?.rates.get(r.id);
    rates.set(r.id, { requests: (before?.requests ?? 0) + r.requests, tokens: (before?.tokens ?? 0) + r.tokens });
  }
  state.lease = {
    grant,
    receivedAt,
    expiresAt: receivedAt + grant.ttlMs,
    keys: new Map(grant.keys.map((k) => [k.id, k])),
    slices,
    rates,
  };
}

export type Renewal = {
  /** The ledger's grant (null: no lease), or an AppError when it could not answer. */
  lease: (report: LeaseReport) => Promise<LeaseGrant | null | AppError>;
  sendEvents: (events: UsageEvent[]) => Promise<void>;
};

/** Reports pending calls and renews the lease (one renewal at a time per tenant). */
export function renew(tenantId: string, via: Renewal): Promise<void> {
  const state = stateOf(tenantId);
  if (state.renewing) return state.renewing;
  const events = state.pending.splice(0);
  const lease = state.lease;
  const now = Date.now();
  // A lease that ran out (the isolate was idle) gives its free slices back: the ledger may have
  // released their holds meanwhile, so they are granted afresh rather than trusted.
  const stale = lease !== null && now >= lease.expiresAt;
  const report: LeaseReport = {
    leaseId: lease?.grant.leaseId ?? null,
    now,
    events,
    budgets: lease
      ? [...lease.slices].map(([id, s]) => ({ id, freeNano: s.free, releaseNano: stale ? s.free : 0n }))
      : [],
    rates: lease
      ? [...lease.rates].map(([id, r]) => ({
          id,
          requests: r.requests,
          tokens: r.tokens,
          returnRequests: stale ? r.requests : 0,
          returnTokens: stale ? r.tokens : 0,
        }))
      : [],
  };
  if (lease && stale) {
    for (const slice of lease.slices.values()) {
      slice.remaining -= slice.free;
      slice.free = 0n;
    }
    for (const r of lease.rates.values()) Object.assign(r, { requests: 0, tokens: 0 });
  }
  const run = async () => {
    const [grant] = await Promise.all([via.lease(report), events.length > 0 ? via.sendEvents(events) : undefined]);
    // On failure the lease runs out at its expiry and calls go to the ledger (strict).
    if (!(grant instanceof AppError)) apply(state, grant, Date.now());
  };
  state.renewing = run().finally(() => {
    state.renewing = null;
  });
  return state.renewing;
}

/**
 * What to do after a call of a tenant in lease mode: renew now when the lease is missing, old
 * or low, or many calls wait to be reported; else make sure pending calls are reported within
 * LEASE_RENEW_MS. Returns the work to hand to waitUntil, or null.
 */
export function afterCall(tenantId: string, via: Renewal, now: number): Promise<void> | null {
  const state = stateOf(tenantId);
  const lease = state.lease;
  const low = lease ? [...lease.slices.values()].some((s) => s.granted > 0n && s.free * 4n < s.granted) : false;
  if (!lease || now - lease.receivedAt >= LEASE_RENEW_MS || low || state.pending.length >= REPORT_BATCH) {
    return renew(tenantId, via);
  }
  if (state.pending.length === 0 || state.scheduled) return null;
  state.scheduled = true;
  return new Promise<void>((resolve) => setTimeout(resolve, LEASE_RENEW_MS)).then(() => {
    state.scheduled = false;
    return state.pending.length > 0 ? renew(tenantId, via) : undefined;
  });
}
