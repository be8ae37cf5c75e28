// People, organisations and memberships in D1. Users are global (one email, one person);
// memberships and everything an organisation owns go through the tenant-scoped accessor.
import { z } from "zod";
import { newId } from "../../shared/ids.ts";
import { tenantDb } from "../store/index.ts";
import type { Role } from "./roles.ts";

export type User = {
  id: string;
  email: string;
  name: string;
  password_hash: string | null;
  totp_secret: string | null;
  totp_pending: string | null;
  totp_last_step: number | null;
  mfa_enabled_at: number | null;
  locked_at: number | null;
  created_at: number;
};

/** An organisation as one of its members sees it. */
export type Membership = {
  tenantId: string;
  name: string;
  role: Role;
  mfaRequired: boolean;
};

type MembershipRow = { tenant_id: string; name: string; role: Role; mfa_required: number };

const Email = z.email().max(254);

/** Lower-case, NFKC, trimmed; null when it is not an email address. */
export function normaliseEmail(text: string): string | null {
  const email = text.normalize("NFKC").trim().toLowerCase();
  return Email.safeParse(email).success ? email : null;
}

export function findUserByEmail(env: Env, email: string): Promise<User | null> {
  return env.DB.prepare("SELECT * FROM users WHERE email = ?").bind(email).first<User>();
}

export function getUser(env: Env, id: string): Promise<User | null> {
  return env.DB.prepare("SELECT * FROM users WHERE id = ?").bind(id).first<User>();
}

/** The open organisations a person belongs to, oldest membership first. */
export async function membershipsOf(env: Env, userId: string): Promise<Membership[]> {
  const { results } = await env.DB.prepare(
    `SELECT m.tenant_id, t.name, m.role, t.mfa_required FROM memberships m JOIN tenants t ON t.id = m.tenant_id
     WHERE m.user_id = ? AND t.closed_at IS NULL ORDER BY m.created_at, m.tenant_id`,
  )
    .bind(userId)
    .all<MembershipRow>();
  return results.map((r) => ({ tenantId: r.tenant_id, name: r.name, role: r.role, mfaRequired: r.mfa_required === 1 }));
}

export async function membershipIn(env: Env, tenantId: string, userId: string): Promise<Membership | null> {
  const r = await tenantDb(env.DB, tenantId).first<MembershipRow>(
    `SELECT m.tenant_id, t.name, m.role, t.mfa_required FROM memberships m JOIN tenants t ON t.id = m.tenant_id
     WHERE m.tenant_id = ?1 AND m.user_id = ?2 AND t.closed_at IS NULL`,
    userId,
  );
  return r ? { tenantId: r.tenant_id, name: r.name, role: r.role, mfaRequired: r.mfa_required === 1 } : null;
}

/**
 * Whether the person belongs to an open organisation other than `tenantId`. An organisation may
 * change a person's global credentials (a reset link, clearing sign-in delays) only when it is the
 * only organisation they belong to: otherwise its admins could take over their access elsewhere.
 */
export async function belongsElsewhere(env: Env, tenantId: string, userId: string): Promise<boolean> {
  const row = await env.DB.prepare(
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
export async function vouchedForElsewhere(env: Env, tenantId: string, userId: string): Promise<boolean> {
  const row = await env.DB.prepare("SELECT 1 AS n FROM sso_identities WHERE user_id = ? AND tenant_id <> ? LIMIT 1")
    .bind(userId, tenantId)
    .first<{ n: number }>();
  return row !== null;
}

/** SQL true when person ?<user> has an open membership outside organisation ?<tenant>. */
export function elsewhereSql(user: string, tenant: string): string {
  return `EXISTS (SELECT 1 FROM memberships o JOIN tenants ot ON ot.id = o.tenant_id
    WHERE o.user_id = ${user} AND o.tenant_id <> ${tenant} AND ot.closed_at IS NULL)`;
}

export type NewUser = { email: string; name: string; passwordHash: string | null };

export function insertUser(env: Env, user: NewUser & { id: string }, now: number): D1PreparedStatement {
  return env.DB.prepare(
    "INSERT INTO users (id, email, name, password_hash, password_changed_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
  ).bind(user.id, user.email, user.name, user.passwordHash, user.passwordHash ? now : null, now);
}

export function insertMembership(env: Env, tenantId: string, userId: string, role: Role, now: number) {
  return tenantDb(env.DB, tenantId).prepare(
    "INSERT INTO memberships (tenant_id, user_id, role, created_at) VALUES (?1, ?2, ?3, ?4)",
    userId,
    role,
    now,
  );
}

/** Sign-up: a person and the organisation they own, in one batch. False when the email is taken. */
export async function createAccount(
  env: Env,
  input: NewUser & { orgName: string },
  now = Date.now(),
): Promise<{ userId: string; tenantId: string } | null> {
  const userId = newId();
  const tenantId = newId();
  try {
    await env.DB.batch([
      insertUser(env, { ...input, id: userId }, now),
      env.DB.prepare("INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?)").bind(tenantId, input.orgName, now),
      insertMembership(env, tenantId, userId, "owner", now),
    ]);
  } catch (error) {
    if (error instanceof Error && /UNIQUE constraint failed: users\.email/.test(error.message)) return null;
    throw error;
  }
  return { userId, tenantId };
}
