// Admin API tokens (`ola_…`, used by /api/v1): made by an owner or admin, scoped to one
// organisation and a role, shown once, stored as HMAC-SHA-256(pepper) (workers/store/admin-tokens.ts).
import { keyHash } from "../../shared/crypto.ts";
import { mintKey } from "../../shared/keys.ts";
import { insertAdminToken, tenantDb } from "../store/index.ts";
import type { Role } from "./roles.ts";

export async function createAdminToken(
  env: Env,
  tenantId: string,
  t: { name: string; role: Role; createdBy: string | null },
  now = Date.now(),
): Promise<{ id: string; token: string }> {
  const minted = mintKey("ola", tenantId);
  await insertAdminToken(tenantDb(env.DB, tenantId), {
    id: minted.id,
    name: t.name,
    token_hash: await keyHash(env.KEY_PEPPER, minted.key),
    created_at: now,
    role: t.role,
    created_by: t.createdBy,
  });
  return { id: minted.id, token: minted.key };
}
