// Admin API tokens (`admin_tokens`), stored as HMAC-SHA-256(pepper) hashes. Minting and checking
// a token are the auth and API components'; this module reads and writes the rows.
import type { Role } from "../../shared/roles.ts";
import type { TenantDb } from "./tenant-db.ts";

/** A row of `admin_tokens`. `created_by` is "user:<id>" or "operator". */
export type AdminTokenRow = {
  tenant_id: string;
  id: string;
  name: string;
  token_hash: string;
  created_at: number;
  revoked_at: number | null;
  role: Role;
  created_by: string | null;
};

/** A token as the settings page lists it (no hash). */
export type AdminTokenListing = Pick<
  AdminTokenRow,
  "id" | "name" | "role" | "created_at" | "created_by" | "revoked_at"
>;

export async function insertAdminToken(
  db: TenantDb,
  t: Pick<AdminTokenRow, "id" | "name" | "token_hash" | "role" | "created_by" | "created_at">,
): Promise<void> {
  await db.run(
    "INSERT INTO admin_tokens (tenant_id, id, name, token_hash, created_at, role, created_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    t.id,
    t.name,
    t.token_hash,
    t.created_at,
    t.role,
    t.created_by,
  );
}

/** Active tokens first, newest first. */
export function listAdminTokens(db: TenantDb): Promise<AdminTokenListing[]> {
  return db.all<AdminTokenListing>(
    "SELECT id, name, role, created_at, created_by, revoked_at FROM admin_tokens WHERE tenant_id = ?1 ORDER BY revoked_at IS NOT NULL, created_at DESC",
  );
}

/** What a request's token is checked against: its hash, state and role (unchecked text: the API
 * refuses a role it does not know), and whether its organisation is closed. */
export function findAdminTokenForAuth(
  db: TenantDb,
  id: string,
): Promise<{ token_hash: string; revoked_at: number | null; role: string; closed_at: number | null } | null> {
  return db.first(
    `SELECT a.token_hash, a.revoked_at, a.role, t.closed_at FROM admin_tokens a JOIN tenants t ON t.id = a.tenant_id
       WHERE a.tenant_id = ?1 AND a.id = ?2`,
    id,
  );
}

/** Revokes an active token; false when there is no such active token. */
export async function revokeAdminToken(db: TenantDb, id: string, now: number): Promise<boolean> {
  const result = await db.run(
    "UPDATE admin_tokens SET revoked_at = ?2 WHERE tenant_id = ?1 AND id = ?3 AND revoked_at IS NULL",
    now,
    id,
  );
  return result.meta.changes === 1;
}

/** Revokes the active tokens with this name (the operator's re-issue). */
export async function revokeAdminTokensNamed(db: TenantDb, name: string, now: number): Promise<void> {
  await db.run(
    "UPDATE admin_tokens SET revoked_at = ?2 WHERE tenant_id = ?1 AND name = ?3 AND revoked_at IS NULL",
    now,
    name,
  );
}

/** SQL: the active tokens of organisation ?1 made by a person who has no MFA. Operator-made
 * tokens (no `user:` creator) are not among them. */
const WITHOUT_MFA = `FROM admin_tokens a WHERE a.tenant_id = ?1 AND a.revoked_at IS NULL AND a.created_by LIKE 'user:%'
  AND NOT EXISTS (SELECT 1 FROM users u WHERE 'user:' || u.id = a.created_by AND u.mfa_enabled_at IS NOT NULL)`;

/** The active tokens made by people without MFA. */
export function listTokensWithoutMfa(db: TenantDb): Promise<Pick<AdminTokenRow, "id" | "name">[]> {
  return db.all<Pick<AdminTokenRow, "id" | "name">>(`SELECT a.id, a.name ${WITHOUT_MFA}`);
}

/** Revokes those tokens; their ids. */
export async function revokeTokensWithoutMfa(db: TenantDb, now: number): Promise<string[]> {
  const rows = await db.all<{ id: string }>(
    `UPDATE admin_tokens SET revoked_at = ?2 WHERE tenant_id = ?1 AND id IN (SELECT a.id ${WITHOUT_MFA}) RETURNING id`,
    now,
  );
  return rows.map((r) => r.id);
}
