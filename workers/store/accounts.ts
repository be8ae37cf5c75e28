// People, organisations and memberships (users, tenants, memberships). Users are global (one
// email, one person) and take the D1 database; memberships and everything an organisation owns go
// through the tenant-scoped accessor. The rules (who may join, who may be changed) are the auth
// component's; this module only reads and writes the rows.
import type { Role } from "../../shared/roles.ts";
import { elsewhereSql, uniqueViolation } from "./d1.ts";
import { tenantDb, type TenantDb } from "./tenant-db.ts";

/** A row of `users`. */
export type UserRow = {
  id: string;
  email: string;
  name: string;
  password_hash: string | null;
  password_changed_at: number | null;
  totp_secret: string | null;
  totp_pending: string | null;
  totp_last_step: number | null;
  mfa_enabled_at: number | null;
  locked_at: number | null;
  created_at: number;
};

/** A row of `tenants` (an organisation). */
export type TenantRow = {
  id: string;
  name: string;
  created_at: number;
  closed_at: number | null;
  purge_at: number | null;
  mfa_required: number;
};

/** A row of `memberships`. */
export type MembershipRow = { tenant_id: string; user_id: string; role: Role; created_at: number };

/** A membership with its organisation's name and MFA requirement. */
export type OrgMembershipRow = Pick<MembershipRow, "tenant_id" | "role"> & Pick<TenantRow, "name" | "mfa_required">;

/** A member as the members page lists them; `elsewhere` is 1 when they belong to another open
 * organisation too. */
export type MemberListRow = Pick<MembershipRow, "user_id" | "role"> &
  Pick<UserRow, "name" | "email" | "mfa_enabled_at"> & { elsewhere: number };

export function findUserByEmail(db: D1Database, email: string): Promise<UserRow | null> {
  return db.prepare("SELECT * FROM users WHERE email = ?").bind(email).first<UserRow>();
}

export function findUserById(db: D1Database, id: string): Promise<UserRow | null> {
  return db.prepare("SELECT * FROM users WHERE id = ?").bind(id).first<UserRow>();
}

/** The open organisations a person belongs to, oldest membership first. */
export async function listOpenMemberships(db: D1Database, userId: string): Promise<OrgMembershipRow[]> {
  const { results } = await db
    .prepare(
      `SELECT m.tenant_id, t.name, m.role, t.mfa_required FROM memberships m JOIN tenants t ON t.id = m.tenant_id
     WHERE m.user_id = ? AND t.closed_at IS NULL ORDER BY m.created_at, m.tenant_id`,
    )
    .bind(userId)
    .all<OrgMembershipRow>();
  return results;
}

/**
 * Whether the person belongs to an open organisation other than `tenantId`. An organisation may
 * change a person's global credentials (a reset link, clearing sign-in delays) only when it is the
 * only organisation they belong to: otherwise its admins could take over their access elsewhere.
 */
export async function belongsElsewhere(db: D1Database, tenantId: string, userId: string): Promise<boolean> {
  const row = await db
    .prepare(
      `SELECT 1 AS n FROM memberships m JOIN tenants t ON t.id = m.tenant_id
     WHERE m.user_id = ? AND m.tenant_id <> ? AND t.closed_at IS NULL LIMIT 1`,
    )
    .bind(userId, tenantId)
    .first<{ n: number }>();
  return row !== null;
}

/**
 * Whether the person's account was made by the single sign-on of an organisation other than
 * `tenantId`. That organisation's identity provider, which its admins control, can sign in as
 * the person at will, so such an account stays in that organisation: it joins no other.
 */
export async function vouchedForElsewhere(db: D1Database, tenantId: string, userId: string): Promise<boolean> {
  const row = await db
    .prepare("SELECT 1 AS n FROM sso_identities WHERE user_id = ? AND tenant_id <> ? LIMIT 1")
    .bind(userId, tenantId)
    .first<{ n: number }>();
  return row !== null;
}

export type NewUser = { id: string; email: string; name: string; passwordHash: string | null };

/** The insert of a person (for a batch). */
export function insertUser(db: D1Database, user: NewUser, now: number): D1PreparedStatement {
  return db
    .prepare(
      "INSERT INTO users (id, email, name, password_hash, password_changed_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(user.id, user.email, user.name, user.passwordHash, user.passwordHash ? now : null, now);
}

/** The insert of a membership (for a batch). */
export function insertMembership(db: TenantDb, userId: string, role: Role, now: number): D1PreparedStatement {
  return db.prepare(
    "INSERT INTO memberships (tenant_id, user_id, role, created_at) VALUES (?1, ?2, ?3, ?4)",
    userId,
    role,
    now,
  );
}

/** A person and the organisation they own, in one batch. False when the email is taken. */
export async function insertAccount(
  db: D1Database,
  input: NewUser & { tenantId: string; orgName: string },
  now: number,
): Promise<boolean> {
  try {
    await db.batch([
      insertUser(db, input, now),
      db
        .prepare("INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)")
        .bind(input.tenantId, input.orgName, now),
      insertMembership(tenantDb(db, input.tenantId), input.id, "owner", now),
    ]);
  } catch (error) {
    if (uniqueViolation(error, "users.email")) return false;
    throw error;
  }
  return true;
}

/** A new hash of the same password (stronger parameters). */
export async function rehashPassword(db: D1Database, userId: string, passwordHash: string): Promise<void> {
  await db.prepare("UPDATE users SET password_hash = ? WHERE id = ?").bind(passwordHash, userId).run();
}

export async function changePassword(db: D1Database, userId: string, passwordHash: string, now: number) {
  await db
    .prepare("UPDATE users SET password_hash = ?, password_changed_at = ? WHERE id = ?")
    .bind(passwordHash, now, userId)
    .run();
}

export async function clearUserLock(db: D1Database, userId: string): Promise<void> {
  await db.prepare("UPDATE users SET locked_at = NULL WHERE id = ?").bind(userId).run();
}

/** The operator's upsert: a person (or a new password for them) and their membership with this role. */
export async function upsertMember(
  db: D1Database,
  tenantId: string,
  member: { userId: string; email: string; name: string; passwordHash: string; role: Role },
  now: number,
): Promise<void> {
  await db.batch([
    db
      .prepare(
        `INSERT INTO users (id, email, name, password_hash, password_changed_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)
       ON CONFLICT (email) DO UPDATE SET password_hash = ?4, password_changed_at = ?5, locked_at = NULL`,
      )
      .bind(member.userId, member.email, member.name, member.passwordHash, now),
    tenantDb(db, tenantId).prepare(
      `INSERT INTO memberships (tenant_id, user_id, role, created_at) SELECT ?1, id, ?2, ?3 FROM users WHERE email = ?4
       ON CONFLICT (tenant_id, user_id) DO UPDATE SET role = ?2`,
      member.role,
      now,
      member.email,
    ),
  ]);
}

// ---- organisations -----------------------------------------------------------------------------

export async function tenantExists(db: D1Database, id: string): Promise<boolean> {
  return (await db.prepare("SELECT id FROM tenants WHERE id = ?").bind(id).first()) !== null;
}

/** Creates the organisation unless it exists; the row either way. */
export async function ensureTenant(
  db: D1Database,
  id: string,
  name: string,
  now: number,
): Promise<Pick<TenantRow, "id" | "name" | "created_at"> | null> {
  await db
    .prepare("INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING")
    .bind(id, name, now)
    .run();
  return db
    .prepare("SELECT id, name, created_at FROM tenants WHERE id = ?")
    .bind(id)
    .first<Pick<TenantRow, "id" | "name" | "created_at">>();
}

export async function setMfaRequired(db: D1Database, tenantId: string, required: boolean): Promise<void> {
  // The tenants row is the organisation itself (keyed by id, not tenant_id).
  await db
    .prepare("UPDATE tenants SET mfa_required = ? WHERE id = ?")
    .bind(required ? 1 : 0, tenantId)
    .run();
}

/** Closes the organisation in one batch: marked for purge, its admin tokens revoked, its sessions ended. */
export async function closeTenant(db: D1Database, tenantId: string, now: number, purgeAt: number): Promise<void> {
  const tenant = tenantDb(db, tenantId);
  await db.batch([
    db.prepare("UPDATE tenants SET closed_at = ?, purge_at = ? WHERE id = ?").bind(now, purgeAt, tenantId),
    tenant.prepare("UPDATE admin_tokens SET revoked_at = ?2 WHERE tenant_id = ?1 AND revoked_at IS NULL", now),
    tenant.prepare("DELETE FROM sessions WHERE tenant_id = ?1"),
  ]);
}

// ---- members -----------------------------------------------------------------------------------

/** The organisation's members: owners, admins, members, viewers, each by email. */
export function listMembers(db: TenantDb): Promise<MemberListRow[]> {
  return db.all<MemberListRow>(
    `SELECT m.user_id, u.name, u.email, m.role, u.mfa_enabled_at, ${elsewhereSql("m.user_id", "m.tenant_id")} AS elsewhere
       FROM memberships m JOIN users u ON u.id = m.user_id
       WHERE m.tenant_id = ?1 ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 WHEN 'member' THEN 2 ELSE 3 END, u.email`,
  );
}

export function findMember(db: TenantDb, userId: string): Promise<{ role: Role; email: string } | null> {
  return db.first<{ role: Role; email: string }>(
    "SELECT m.role, u.email FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.tenant_id = ?1 AND m.user_id = ?2",
    userId,
  );
}

export async function isMember(db: TenantDb, userId: string): Promise<boolean> {
  return (await db.first("SELECT 1 AS ok FROM memberships WHERE tenant_id = ?1 AND user_id = ?2", userId)) !== null;
}

export async function setMemberRole(db: TenantDb, userId: string, role: Role): Promise<void> {
  await db.run("UPDATE memberships SET role = ?3 WHERE tenant_id = ?1 AND user_id = ?2", userId, role);
}

export async function deleteMembership(db: TenantDb, userId: string): Promise<void> {
  await db.run("DELETE FROM memberships WHERE tenant_id = ?1 AND user_id = ?2", userId);
}
