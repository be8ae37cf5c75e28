// Admin API tokens (`ola_…`, used by /api/v1): made by an owner or admin, scoped to one
// organisation and a role, shown once, stored as HMAC-SHA-256(pepper).
import { keyHash } from "../../shared/crypto.ts";
import { mintKey } from "../../shared/keys.ts";
import { tenantDb } from "../store/index.ts";
import type { Role } from "./roles.ts";

export type AdminTokenRow = {
  id: string;
  name: string;
  role: Role;
  created_at: number;
  created_by: string | null;
  revoked_at: number | null;
};

export async function createAdminToken(
  env: Env,
  tenantId: string,
  t: { name: string; role: Role; createdBy: string | null },
  now = Date.now(),
): Promise<{ id: string; token: string }> {
  const minted = mintKey("ola", tenantId);
  await tenantDb(env.DB, tenantId).run(
    "INSERT INTO admin_tokens (tenant_id, id, name, token_hash, created_at, role, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    minted.id,
    t.name,
    await keyHash(env.KEY_PEPPER, minted.key),
    now,
    t.role,
    t.createdBy,
  );
  return { id: minted.id, token: minted.key };
}

export function listAdminTokens(env: Env, tenantId: string): Promise<AdminTokenRow[]> {
  return tenantDb(env.DB, tenantId).all<AdminTokenRow>(
    "SELECT id, name, role, created_at, created_by, revoked_at FROM admin_tokens WHERE tenant_id = ?1 ORDER BY revoked_at IS NOT NULL, created_at DESC",
  );
}

export async function revokeAdminToken(env: Env, tenantId: string, id: string, now = Date.now()): Promise<boolean> {
  const result = await tenantDb(env.DB, tenantId).run(
    "UPDATE admin_tokens SET revoked_at = ?2 WHERE tenant_id = ?1 AND id = ?3 AND revoked_at IS NULL",
    now,
    id,
  );
  return result.meta.changes === 1;
}

/** SQL: the active tokens of organisation ?1 made by a person who has no MFA (revoked when the
 * organisation starts requiring it). Operator-made tokens (no `user:` creator) are not among them. */
const WITHOUT_MFA = `FROM admin_tokens a WHERE a.tenant_id = ?1 AND a.revoked_at IS NULL AND a.created_by LIKE 'user:%'
  AND NOT EXISTS (SELECT 1 FROM users u WHERE 'user:' || u.id = a.created_by AND u.mfa_enabled_at IS NOT NULL)`;

export function tokensWithoutMfa(env: Env, tenantId: string): Promise<{ id: string; name: string }[]> {
  return tenantDb(env.DB, tenantId).all<{ id: string; name: string }>(`SELECT a.id, a.name ${WITHOUT_MFA}`);
}

/** Revokes those tokens; their ids. */
export async function revokeTokensWithoutMfa(env: Env, tenantId: string, now = Date.now()): Promise<string[]> {
  const rows = await tenantDb(env.DB, tenantId).all<{ id: string }>(
    `UPDATE admin_tokens SET revoked_at = ?2 WHERE tenant_id = ?1 AND id IN (SELECT a.id ${WITHOUT_MFA}) RETURNING id`,
    now,
  );
  return rows.map((r) => r.id);
}
