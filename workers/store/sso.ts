// Single sign-on: an organisation's identity provider (`sso_configs`, the client secret sealed by
// the caller), the sign-ins waiting for the provider's answer (`sso_requests`, single use) and
// which person a provider's subject is (`sso_identities`). The OIDC exchange is workers/auth/oidc.ts.
import type { Role } from "../../shared/roles.ts";
import { insertMembership, insertUser } from "./accounts.ts";
import { uniqueViolation } from "./d1.ts";
import { tenantDb, type TenantDb } from "./tenant-db.ts";

/** A row of `sso_configs`; `client_secret` is sealed with DATA_KEYS. */
export type SsoConfigRow = {
  tenant_id: string;
  issuer: string;
  client_id: string;
  client_secret: string;
  default_role: Role;
  updated_at: number;
};

/** A row of `sso_requests`. */
export type SsoRequestRow = {
  state_hash: string;
  tenant_id: string;
  nonce: string;
  code_verifier: string;
  expires_at: number;
};

/** A row of `sso_identities`. */
export type SsoIdentityRow = {
  tenant_id: string;
  issuer: string;
  subject: string;
  user_id: string;
  created_at: number;
};

/** The organisation's SSO settings, if it is open and has them. */
export function findSsoConfig(
  db: TenantDb,
): Promise<Pick<SsoConfigRow, "issuer" | "client_id" | "client_secret" | "default_role"> | null> {
  return db.first(
    `SELECT s.issuer, s.client_id, s.client_secret, s.default_role FROM sso_configs s JOIN tenants t ON t.id = s.tenant_id
     WHERE s.tenant_id = ?1 AND t.closed_at IS NULL`,
  );
}

/** The settings page's view of them (no secret). */
export function findSsoSummary(
  db: TenantDb,
): Promise<Pick<SsoConfigRow, "issuer" | "client_id" | "default_role"> | null> {
  return db.first("SELECT issuer, client_id, default_role FROM sso_configs WHERE tenant_id = ?1");
}

export async function upsertSsoConfig(
  db: TenantDb,
  s: Pick<SsoConfigRow, "issuer" | "client_id" | "client_secret" | "default_role" | "updated_at">,
): Promise<void> {
  await db.run(
    `INSERT INTO sso_configs (tenant_id, issuer, client_id, client_secret, default_role, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
     ON CONFLICT (tenant_id) DO UPDATE SET issuer = ?2, client_id = ?3, client_secret = ?4, default_role = ?5, updated_at = ?6`,
    s.issuer,
    s.client_id,
    s.client_secret,
    s.default_role,
    s.updated_at,
  );
}

export async function deleteSsoConfig(db: TenantDb): Promise<void> {
  await db.run("DELETE FROM sso_configs WHERE tenant_id = ?1");
}

export async function insertSsoRequest(
  db: TenantDb,
  r: Pick<SsoRequestRow, "state_hash" | "nonce" | "code_verifier" | "expires_at">,
): Promise<void> {
  await db.run(
    "INSERT INTO sso_requests (tenant_id, state_hash, nonce, code_verifier, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    r.state_hash,
    r.nonce,
    r.code_verifier,
    r.expires_at,
  );
}

/** Single use: the request is deleted as it is read. */
export function takeSsoRequest(
  db: TenantDb,
  stateHash: string,
): Promise<Pick<SsoRequestRow, "nonce" | "code_verifier" | "expires_at"> | null> {
  return db.first(
    "DELETE FROM sso_requests WHERE tenant_id = ?1 AND state_hash = ?2 RETURNING nonce, code_verifier, expires_at",
    stateHash,
  );
}

/** The person this provider's subject is, in this organisation. */
export async function findSsoUserId(db: TenantDb, issuer: string, subject: string): Promise<string | null> {
  const linked = await db.first<{ user_id: string }>(
    "SELECT user_id FROM sso_identities WHERE tenant_id = ?1 AND issuer = ?2 AND subject = ?3",
    issuer,
    subject,
  );
  return linked?.user_id ?? null;
}

/** A person new to Outlay, made by the organisation's SSO: the person, the membership and the
 * identity in one batch. False when a UNIQUE constraint refused it (another first sign-in of the
 * same person, or of the same email, won). */
export async function insertSsoMember(
  db: D1Database,
  tenantId: string,
  m: { userId: string; email: string; name: string; role: Role; issuer: string; subject: string },
  now: number,
): Promise<boolean> {
  const tenant = tenantDb(db, tenantId);
  try {
    await db.batch([
      insertUser(db, { id: m.userId, email: m.email, name: m.name, passwordHash: null }, now),
      insertMembership(tenant, m.userId, m.role, now),
      tenant.prepare(
        "INSERT INTO sso_identities (tenant_id, issuer, subject, user_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        m.issuer,
        m.subject,
        m.userId,
        now,
      ),
    ]);
  } catch (error) {
    if (uniqueViolation(error)) return false;
    throw error;
  }
  return true;
}
