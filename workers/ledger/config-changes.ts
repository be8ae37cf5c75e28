// Provider credentials, settings and price overrides as the ledger changes them (catalog.ts holds
// the rows): the change, its D1 mirror row and its audit event in one transaction, then the
// outbox is sent. Audit data is metadata only: a credential never leaves the catalog.
import { SYSTEM } from "../../shared/audit.ts";
import type { PriceOverride } from "../../shared/pricing.ts";
import { windowKey } from "../../shared/windows.ts";
import type { LedgerParts } from "./parts.ts";
import type {
  DeletePriceOverrideRequest,
  DeleteProviderRequest,
  SetPriceOverrideRequest,
  SetProviderRequest,
  SetSettingsRequest,
} from "./requests.ts";
import { bindTenant } from "./schema.ts";
import type { ProviderRecord, TenantSettings } from "./types.ts";

export async function setProvider(
  parts: LedgerParts,
  { tenantId, provider: update, actor = SYSTEM, now = Date.now() }: SetProviderRequest,
): Promise<ProviderRecord> {
  bindTenant(parts.sql, tenantId);
  const replaced = parts.catalog.listProviders().some((p) => p.name === update.name);
  const record = parts.storage.transactionSync(() => {
    parts.outbox.mirror(
      `INSERT INTO provider_credentials (tenant_id, provider, kind, base_url, key_hint, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
       ON CONFLICT (tenant_id, provider) DO UPDATE SET kind = excluded.kind, base_url = excluded.base_url,
         key_hint = excluded.key_hint, updated_at = excluded.updated_at`,
      [update.name, update.format, update.baseUrl, update.keyHint, now],
    );
    // Metadata only: the name, format, base URL and the key's hint, never the credential.
    parts.outbox.audit({
      at: now,
      type: "provider.set",
      actor,
      requestId: null,
      subject: update.name,
      data: { format: update.format, baseUrl: update.baseUrl, keyHint: update.keyHint, replaced },
    });
    return parts.catalog.upsertProvider(update, now);
  });
  await parts.send();
  return record;
}

export async function deleteProvider(
  parts: LedgerParts,
  { tenantId, name, actor = SYSTEM, now = Date.now() }: DeleteProviderRequest,
): Promise<boolean> {
  bindTenant(parts.sql, tenantId);
  const removed = parts.storage.transactionSync(() => {
    if (!parts.catalog.deleteProvider(name)) return false;
    parts.outbox.mirror("DELETE FROM provider_credentials WHERE tenant_id = ?1 AND provider = ?2", [name]);
    parts.outbox.audit({ at: now, type: "provider.deleted", actor, requestId: null, subject: name, data: {} });
    return true;
  });
  if (removed) await parts.send();
  return removed;
}

/** Changes settings; a new time zone moves each calendar budget's current window to it. */
export async function setSettings(
  parts: LedgerParts,
  { tenantId, change, actor = SYSTEM, now = Date.now() }: SetSettingsRequest,
): Promise<TenantSettings> {
  bindTenant(parts.sql, tenantId);
  const before = parts.catalog.settings();
  const after = parts.storage.transactionSync(() => {
    const next = parts.catalog.setSettings(change);
    if (next.timeZone !== before.timeZone) {
      for (const budget of parts.rules.list("budget")) {
        const { window } = budget.spec;
        if (window.kind === "rolling" || window.kind === "lifetime") continue;
        parts.book.rekey(budget.id, windowKey(window, before.timeZone, now), windowKey(window, next.timeZone, now));
      }
    }
    parts.outbox.audit({
      at: now,
      type: "settings.updated",
      actor,
      requestId: null,
      subject: null,
      data: { ...next },
    });
    return next;
  });
  await parts.send();
  return after;
}

export function setPriceOverride(parts: LedgerParts, { tenantId, override }: SetPriceOverrideRequest): PriceOverride {
  bindTenant(parts.sql, tenantId);
  parts.catalog.setOverride(override);
  return override;
}

export function deletePriceOverride(
  parts: LedgerParts,
  { tenantId, provider, model }: DeletePriceOverrideRequest,
): boolean {
  bindTenant(parts.sql, tenantId);
  return parts.catalog.deleteOverride(provider, model);
}
