// Settlement, the ledger's side of a call that ended: its hold is replaced by the actual cost,
// once per request id (holds.ts); a running stream draws down more as it goes; usage events the
// gateway could not queue are settled and kept in the usage outbox (outbox.ts) until
// USAGE_QUEUE takes them; a lease renewal books what an isolate admitted from its lease
// (leases.ts). Budget thresholds crossed are audit events, sent soon by the alarm.
import { SETTLED_KEEP_MS } from "./holds.ts";
import { renewLease } from "./leases.ts";
import { AUDIT_FLUSH_MS, type LedgerParts } from "./parts.ts";
import { usageEventsOf } from "../../shared/usage.ts";
import type { DrawRequest, ForwardUsageRequest, SettleRequest } from "./requests.ts";
import { bindTenant } from "./schema.ts";
import type { LeaseGrant, LeaseReport } from "./types.ts";

export async function settle(parts: LedgerParts, { events, now = Date.now() }: SettleRequest): Promise<void> {
  const { timeZone } = parts.catalog.settings();
  const crossings = parts.storage.transactionSync(() => parts.holds.settle(events, timeZone, now));
  await parts.wakeBy(now + (crossings > 0 ? AUDIT_FLUSH_MS : SETTLED_KEEP_MS));
}

export async function forwardUsage(
  parts: LedgerParts,
  { tenantId, messages: packed, events: alone, now = Date.now() }: ForwardUsageRequest,
): Promise<void> {
  bindTenant(parts.sql, tenantId);
  const messages = packed ?? alone ?? [];
  const events = messages.flatMap((m) => {
    const carried = usageEventsOf(m);
    if (!carried) throw new Error("not a usage queue message");
    return carried;
  });
  // An invariant: the gateway hands over only events of the tenant it serves this ledger for.
  if (events.some((e) => e.tenantId !== tenantId)) throw new Error("usage event of another tenant");
  const { timeZone } = parts.catalog.settings();
  parts.storage.transactionSync(() => {
    parts.holds.settle(events, timeZone, now);
    parts.outbox.usage(messages);
  });
  await parts.send();
}

export async function draw(
  parts: LedgerParts,
  { requestId, usedNano, wantNano, now = Date.now() }: DrawRequest,
): Promise<bigint> {
  const { timeZone } = parts.catalog.settings();
  const drawn = parts.storage.transactionSync(() => parts.holds.draw(requestId, usedNano, wantNano, timeZone, now));
  if (drawn.crossings > 0) await parts.wakeBy(now + AUDIT_FLUSH_MS);
  return drawn.amount;
}

export async function lease(parts: LedgerParts, report: LeaseReport): Promise<LeaseGrant | null> {
  const grant = parts.storage.transactionSync(() => renewLease(parts, report));
  await parts.wakeBy(report.now + AUDIT_FLUSH_MS);
  return grant;
}
