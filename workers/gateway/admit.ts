// How the gateway gets a call admitted and accounted, whatever the tenant's admission mode:
//
//   admitCall ─┬─ lease mode, lease fresh, the lease can decide alone ─── admitted here, no round trip
//              ├─ TenantLedger.admit (strict; also every call the lease cannot decide)
//              └─ the ledger cannot answer ── a remembered fail-open admission, or 503
//   finishCall ─┬─ admitted from the lease ── slices credited; event reported at the next renewal
//              └─ otherwise ── event to USAGE_QUEUE now, and the hold settled with the ledger
//   (an event the queue refuses is handed to the ledger, which sends it on: usage-delivery.ts)
//   then, for a tenant in lease mode, the lease renewed when due (ledger/leases.ts, lease.ts)
import { AppError } from "../../shared/errors.ts";
import type { UsageEvent } from "../../shared/usage.ts";
import { type AdmitRequest, type AdmitResult, type Admitted, type Ledger, ledgerFor } from "../ledger/index.ts";
import { failOpenAdmission, forgetKey, rememberAdmission } from "./fail-open.ts";
import { admitFromLease, afterCall, settleFromLease, type Renewal } from "./lease.ts";
import { sendEvent, sendEvents, type UsageHandOff } from "./usage-delivery.ts";

const LEDGER_UNAVAILABLE = "Outlay could not check this request and refused it; retry shortly.";

export function ledgerOf(env: Env, tenantId: string): Ledger | null {
  try {
    return ledgerFor(env, tenantId);
  } catch {
    return null;
  }
}

export async function admitCall(
  ctx: Pick<ExecutionContext, "waitUntil">,
  env: Env,
  ledger: Ledger | null,
  tenantId: string,
  request: AdmitRequest,
): Promise<AdmitResult> {
  const local = admitFromLease(tenantId, request);
  if (local) return local;
  const { call } = request;
  try {
    if (!ledger) throw new Error("no ledger stub");
    const result = await ledger.admit(request);
    if (result.ok && call) {
      rememberAdmission(tenantId, request.keyId, request.provider, call.model, request.keyHash, result, request.now);
    } else if (!result.ok) forgetKey(tenantId, request.keyId, request.now);
    // A tenant in lease mode whose isolate has no usable lease: ask for one now, not after the call.
    if (result.ok && result.leaseMode) renewWhenDue(ctx, env, ledger, tenantId);
    return result;
  } catch {
    const fallback = call
      ? failOpenAdmission(tenantId, request.keyId, request.provider, call.model, request.keyHash, request.now)
      : null;
    if (fallback) return { ...fallback, failedOpen: true };
    throw new AppError("ledger_unavailable", LEDGER_UNAVAILABLE);
  }
}

async function settle(ledger: Ledger | null, event: UsageEvent): Promise<void> {
  try {
    if (!ledger) throw new Error("no ledger stub");
    await ledger.settle([event]);
  } catch (error) {
    // The usage consumer settles the call again from its event (reconciliation).
    console.error(
      "settle failed; the usage consumer will reconcile",
      event.requestId,
      error instanceof Error ? error.name : "unknown",
    );
  }
}

/** Usage events the queue refused go to the tenant's ledger, which sends them on (durably). */
function handOffTo(ledger: Ledger | null, tenantId: string): UsageHandOff {
  return async (events) => {
    if (!ledger) throw new Error("no ledger stub");
    await ledger.forwardUsage(tenantId, events);
  };
}

function renewal(env: Env, ledger: Ledger | null, tenantId: string): Renewal {
  const queue = env.USAGE_QUEUE as Queue<UsageEvent>;
  return {
    lease: async (report) => {
      if (!ledger) throw new Error("no ledger stub");
      return ledger.lease(report);
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
    const held = admission?.held === true;
    ctx.waitUntil(
      Promise.all([
        sendEvent(env.USAGE_QUEUE as Queue<UsageEvent>, event, handOffTo(ledger, tenantId)),
        held ? settle(ledger, event) : null,
      ]),
    );
  }
  if (admission?.leaseMode) renewWhenDue(ctx, env, ledger, tenantId);
}

function renewWhenDue(ctx: Pick<ExecutionContext, "waitUntil">, env: Env, ledger: Ledger | null, tenantId: string) {
  const work = afterCall(tenantId, renewal(env, ledger, tenantId), Date.now());
  if (work) ctx.waitUntil(work);
}
