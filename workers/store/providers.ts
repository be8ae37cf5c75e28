// Provider credentials as D1 lists them (provider_credentials): the mirror of the tenant ledger's
// sealed credentials, written only by the ledger's outbox; D1 holds the hint, never the secret.
import type { TenantDb } from "./tenant-db.ts";

/** A provider_credentials row (tenant_id aside). */
export type ProviderCredentialRow = {
  provider: string;
  kind: string;
  base_url: string | null;
  /** the credential's last characters, for recognising it */
  key_hint: string;
  updated_at: number;
};

/** How many providers the tenant has a credential for. */
export async function countProviderCredentials(db: TenantDb): Promise<number> {
  const row = await db.first<{ n: number }>("SELECT COUNT(*) AS n FROM provider_credentials WHERE tenant_id = ?1");
  return row?.n ?? 0;
}
