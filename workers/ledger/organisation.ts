// What the ledger does for the organisation as a whole: audit events of actions taken beyond
// the ledger (so they join the tenant's one order of events), closing (every key revoked at once) and
// the purge of a closed organisation (everything it stores deleted).
import type { LedgerParts } from "./parts.ts";
import type { CloseRequest, RecordAuditRequest } from "./requests.ts";
import { bindTenant } from "./schema.ts";

export async function recordAudit(parts: LedgerParts, { tenantId, drafts }: RecordAuditRequest): Promise<void> {
  bindTenant(parts.sql, tenantId);
  parts.storage.transactionSync(() => {
    parts.outbox.auditRun(drafts);
  });
  await parts.send();
}

/** Revokes every key at once, so no call is admitted again; returns how many were open. */
export async function close(parts: LedgerParts, { tenantId, now, actor }: CloseRequest): Promise<number> {
  bindTenant(parts.sql, tenantId);
  const open = parts.catalog.listKeys().filter((k) => k.revokedAt === null);
  parts.storage.transactionSync(() => {
    for (const key of open) parts.catalog.revokeKey(key.id, now);
    parts.outbox.mirror("UPDATE api_keys SET revoked_at = ?2 WHERE tenant_id = ?1 AND revoked_at IS NULL", [now]);
    parts.outbox.audit({
      at: now,
      type: "org.closed",
      actor,
      requestId: null,
      subject: tenantId,
      data: { keysRevoked: open.length },
    });
  });
  await parts.send();
  return open.length;
}

/** Deletes all the ledger stores. Any later call fails (its tables are gone), which is what a
 * purged tenant should get. */
export async function purge(parts: LedgerParts): Promise<void> {
  await parts.storage.deleteAlarm();
  await parts.storage.deleteAll();
}
