// How the gateway gets a call admitted and accounted, whatever the tenant's admission mode:
//
//   admitCall ─┬─ lease mode, lease fresh, the lease can decide alone ─── admitted here, no round trip
//              ├─ TenantLedger.admit (strict; also every call the lease cannot decide)
//              └─ the ledger cannot answer ── a remembered fail-open admission, or ledger_unavailable (503)
//   finishCall ─┬─ admitted from the lease ── slices credited; event reported at the next renewal
//              └─ otherwise ── batched with the organisation's calls that end within USAGE_BATCH_MS
//                 (usage-batch.ts): events packed to USAGE_QUEUE, holds settled in one ledger call
//   (an event the queue refuses is handed to the ledger, which sends it on: usage-delivery.ts)
//   then, for a tenant in lease mode, the lease renewed when due (ledger/leases.ts, lease.ts)
//
// Every call to the ledger's stub is caught where it is made and becomes a value: the ledger
// could not answer (ledger_unavailable). Nothing here throws to carry a decision.
import { AppError } from "../../shared/errors.ts";
import type { UsageEvent, UsageMessage } from "../../shared/usage.ts";
import { type AdmitRequest, type AdmitResult, type Admitted, type Ledger, ledgerFor } from "../ledger/index.ts";
import { failOpenAdmission, forgetKey, rememberAdmission } from "./fail-open.ts";
import { admitFromLease, afterCall, settleFromLease, type Renewal } from "./lease.ts";
import type { Draw } from "./stream-credit.ts";
import { type BatchSend, batchCall } from "./usage-batch.ts";
import { sendEvents, type UsageHandOff } from "./usage-delivery.ts";

const unavailable = (): AppError =>
  new AppError("ledger_unavailable", "Outlay could not check this request and refused it; retry shortly.");

/** The tenant's ledger stub, or null when the platform cannot give one. */
export function ledgerOf(env: Env, tenantId: string): Ledger | null {
  try {
    return ledgerFor(env, tenantId);
  } catch {
    return null;
  }
}

/** The admission (or refusal) of a call; ledger_unavailable when no one can decide it. */
export async function admitCall(
  ctx: Pick<ExecutionContext, "waitUntil">,
  env: Env,
  ledger: Ledger | null,
  tenantId: string,
  request: AdmitRequest,
): Promise<AdmitResult | AppError> {
  const local = admitFromLease(tenantId, request);
  if (local) return local;
  let result: AdmitResult | AppError;
  try {
    result = ledger ? await ledger.admit(request) : unavailable();
  } catch {
    result = unavailable();
  }
  if (result instanceof AppError) return failOpen(tenantId, request) ?? result;
  const { call } = request;
  if (result.ok && call) {
    rememberAdmission(tenantId, request.keyId, request.provider, call.model, request.keyHash, result, request.now);
  } else if (!result.ok) forgetKey(tenantId, request.keyId, request.now);
  // A tenant in lease mode whose isolate has no usable lease: ask for one now, not after the call.
  if (result.ok && result.leaseMode) renewWhenDue(ctx, env, ledger, tenantId);
  return result;
}

/** The remembered admission that stands in for a ledger that cannot answer, or null (fail-open.ts). */
function failOpen(tenantId: string, request: AdmitRequest): Admitted | null {
  const { call } = request;
  const fallback = call
    ? failOpenAdmission(tenantId, request.keyId, request.provider, call.model, request.keyHash, request.now)
    : null;
  return fallback ? { ...fallback, failedOpen: true } : null;
}

/** How a stream on credit asks the ledger for more of its hold (stream-credit.ts). */
export function drawFrom(ledger: Ledger | null, requestId: string): Draw {
  return async (used, want) => {
    if (!ledger) return 0n;
    try {
      return await ledger.draw({ requestId, usedNano: used, wantNano: want });
    } catch {
      return unavailable();
    }
  };
}

async function settle(ledger: Ledger | null, events: UsageEvent[]): Promise<void> {
  let failure = "no ledger stub";
  if (ledger) {
    try {
      await ledger.settle({ events });
      return;
    } catch (error) {
      failure = error instanceof Error ? error.name : "unknown";
    }
  }
  // The usage consumer settles the calls again from their events (reconciliation).
  console.error(
    "settle failed; the usage consumer will reconcile",
    events.map((e) => e.requestId),
    failure,
  );
}

/** Usage messages the queue refused go to the tenant's ledger, which sends them on (durably). */
function handOffTo(ledger: Ledger | null, tenantId: string): UsageHandOff {
  return async (messages) => {
    if (!ledger) return unavailable();
    try {
      await ledger.forwardUsage({ tenantId, messages });
      return null;
    } catch {
      return unavailable();
    }
  };
}

function renewal(env: Env, ledger: Ledger | null, tenantId: string): Renewal {
  const queue = env.USAGE_QUEUE as Queue<UsageMessage>;
  return {
    lease: async (report) => {
      if (!ledger) return unavailable();
      try {
        return await ledger.lease(report);
      } catch {
        return unavailable();
      }
    },
    sendEvents: (events) => sendEvents(queue, events, handOffTo(ledger, tenantId)),
  };
}

/** Accounts for a finished call (exactly once per authenticated call). */
export function finishCall(
  ctx: Pick<ExecutionContext, "waitUntil">,
  env: Env,
  ledger: Ledger | null,
  tenantId: string,
  admission: Admitted | null,
  event: UsageEvent,
): void {
  if (admission?.leased) {
    settleFromLease(tenantId, admission.leased, event);
  } else {
    // Sent with the calls that end within USAGE_BATCH_MS (usage-batch.ts), by the first of them.
    const send: BatchSend = async (events, held) => {
      const stub = ledgerOf(env, tenantId);
      await Promise.all([
        sendEvents(env.USAGE_QUEUE as Queue<UsageMessage>, events, handOffTo(stub, tenantId)),
        held.length > 0 ? settle(stub, held) : null,
      ]);
    };
    ctx.waitUntil(batchCall(env, tenantId, event, admission?.held === true, send));
  }
  if (admission?.leaseMode) renewWhenDue(ctx, env, ledger, tenantId);
}

function renewWhenDue(ctx: Pick<ExecutionContext, "waitUntil">, env: Env, ledger: Ledger | null, tenantId: string) {
  const work = afterCall(tenantId, renewal(env, ledger, tenantId), Date.now());
  if (work) ctx.waitUntil(work);
}
