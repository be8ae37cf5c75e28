// Single-use links: invitations (`invitations`) and password resets (`password_resets`), both
// found by the HMAC of their token and both owned by an organisation. Taking a link is one
// conditional update, batched with what it grants, so of two racing uses only one wins.
import type { Role } from "../../shared/roles.ts";
import { elsewhereSql, uniqueViolation } from "./d1.ts";
import { tenantDb, type TenantDb } from "./tenant-db.ts";

/** A row of `invitations`. `email` null: anyone with the link may accept it. */
export type InvitationRow = {
  tenant_id: string;
  id: string;
  token_hash: string;
  email: string | null;
  role: Role;
  created_by: string;
  created_at: number;
  expires_at: number;
  accepted_at: number | null;
  accepted_by: string | null;
  revoked_at: number | null;
};

/** A row of `password_resets`. */
export type PasswordResetRow = {
  token_hash: string;
  tenant_id: string;
  user_id: string;
  created_by: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
};

/** An open invitation, with its organisation's name. */
export type OpenInvitation = Pick<InvitationRow, "id" | "email" | "role" | "expires_at"> & { name: string };

export async function insertInvitation(
  db: TenantDb,
  i: Pick<InvitationRow, "id" | "token_hash" | "email" | "role" | "created_by" | "created_at" | "expires_at">,
): Promise<void> {
  await db.run(
    `INSERT INTO invitations (tenant_id, id, token_hash, email, role, created_by, created_at, expires_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)`,
    i.id,
    i.token_hash,
    i.email,
    i.role,
    i.created_by,
    i.created_at,
    i.expires_at,
  );
}

/** The organisation's invitations not accepted, revoked or expired, newest first. */
export function listOpenInvitations(
  db: TenantDb,
  now: number,
): Promise<Pick<InvitationRow, "id" | "email" | "role" | "expires_at">[]> {
  return db.all(
    `SELECT id, email, role, expires_at FROM invitations WHERE tenant_id = ?1 AND accepted_at IS NULL AND revoked_at IS NULL
       AND expires_at > ?2 ORDER BY created_at DESC`,
    now,
  );
}

/** Revokes an open invitation; false when there is no such open invitation. */
export async function revokeInvitation(db: TenantDb, id: string, now: number): Promise<boolean> {
  const result = await db.run(
    "UPDATE invitations SET revoked_at = ?2 WHERE tenant_id = ?1 AND id = ?3 AND accepted_at IS NULL AND revoked_at IS NULL",
    now,
    id,
  );
  return result.meta.changes > 0;
}

/** The open invitation with this token hash, in an open organisation. */
export function findOpenInvitation(db: TenantDb, tokenHash: string, now: number): Promise<OpenInvitation | null> {
  return db.first<OpenInvitation>(
    `SELECT i.id, i.email, i.role, t.name, i.expires_at FROM invitations i JOIN tenants t ON t.id = i.tenant_id
     WHERE i.tenant_id = ?1 AND i.token_hash = ?2 AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > ?3
     AND t.closed_at IS NULL`,
    tokenHash,
    now,
  );
}

/** Taking the invitation: one conditional update, so of two racing acceptances only one wins. */
function take(db: TenantDb, invitationId: string, userId: string, now: number) {
  return db.prepare(
    "UPDATE invitations SET accepted_at = ?2, accepted_by = ?3 WHERE tenant_id = ?1 AND id = ?4 AND accepted_at IS NULL",
    now,
    userId,
    invitationId,
  );
}

/** ...and the membership, written only if this acceptance took it. */
function join(db: TenantDb, invitationId: string, userId: string, now: number) {
  return db.prepare(
    `INSERT INTO memberships (tenant_id, user_id, role, created_at) SELECT ?1, ?2, role, ?3 FROM invitations
       WHERE tenant_id = ?1 AND id = ?4 AND accepted_by = ?2 AND accepted_at = ?3`,
    userId,
    now,
    invitationId,
  );
}

/** An existing person accepts: false when the invitation was taken first. */
export async function acceptInvitation(db: TenantDb, invitationId: string, userId: string, now: number) {
  const [taken] = await db.batch([take(db, invitationId, userId, now), join(db, invitationId, userId, now)]);
  return taken?.meta.changes === 1;
}

/** Someone new accepts: their account and membership are made only if this acceptance took the
 * invitation. "taken" when another acceptance was first, "email_taken" when the email has an account. */
export async function acceptInvitationAsNewUser(
  db: D1Database,
  tenantId: string,
  invitationId: string,
  user: { id: string; email: string; name: string; passwordHash: string },
  now: number,
): Promise<"accepted" | "taken" | "email_taken"> {
  const tenant = tenantDb(db, tenantId);
  try {
    const [taken] = await tenant.batch([
      take(tenant, invitationId, user.id, now),
      db
        .prepare(
          `INSERT INTO users (id, email, name, password_hash, password_changed_at, created_at)
           SELECT ?1, ?2, ?3, ?4, ?5, ?5 WHERE EXISTS
           (SELECT 1 FROM invitations WHERE tenant_id = ?7 AND id = ?6 AND accepted_by = ?1)`,
        )
        .bind(user.id, user.email, user.name, user.passwordHash, now, invitationId, tenantId),
      join(tenant, invitationId, user.id, now),
    ]);
    return taken?.meta.changes === 1 ? "accepted" : "taken";
  } catch (error) {
    if (uniqueViolation(error, "users.email")) return "email_taken";
    throw error;
  }
}

export async function insertPasswordReset(
  db: TenantDb,
  r: Pick<PasswordResetRow, "token_hash" | "user_id" | "created_by" | "created_at" | "expires_at">,
): Promise<void> {
  await db.run(
    `INSERT INTO password_resets (tenant_id, token_hash, user_id, created_by, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)`,
    r.token_hash,
    r.user_id,
    r.created_by,
    r.created_at,
    r.expires_at,
  );
}

/** The live reset with this token hash, for a person who belongs to no open organisation but the
 * reset's. */
export function findOpenReset(
  db: TenantDb,
  tokenHash: string,
  now: number,
): Promise<Pick<PasswordResetRow, "user_id" | "expires_at"> | null> {
  return db.first<Pick<PasswordResetRow, "user_id" | "expires_at">>(
    `SELECT r.user_id, r.expires_at FROM password_resets r WHERE r.tenant_id = ?1 AND r.token_hash = ?2
     AND r.used_at IS NULL AND r.expires_at > ?3 AND NOT ${elsewhereSql("r.user_id", "r.tenant_id")}`,
    tokenHash,
    now,
  );
}

/** Uses the reset and sets the password, in one batch: the reset is taken only if still unused and
 * the person still belongs to no other organisation (checked in the same statement), and the
 * password is set only if it was taken. False when it was not. */
export async function useReset(
  db: D1Database,
  tenantId: string,
  reset: { tokenHash: string; userId: string; passwordHash: string },
  now: number,
): Promise<boolean> {
  const [used] = await db.batch([
    tenantDb(db, tenantId).prepare(
      `UPDATE password_resets SET used_at = ?2 WHERE tenant_id = ?1 AND token_hash = ?3 AND used_at IS NULL
       AND expires_at > ?2 AND NOT ${elsewhereSql("password_resets.user_id", "?1")}`,
      now,
      reset.tokenHash,
    ),
    db
      .prepare(
        `UPDATE users SET password_hash = ?1, password_changed_at = ?2, locked_at = NULL
       WHERE id = ?3 AND EXISTS (SELECT 1 FROM password_resets WHERE token_hash = ?4 AND used_at = ?2)`,
      )
      .bind(reset.passwordHash, now, reset.userId, reset.tokenHash),
  ]);
  return used?.meta.changes === 1;
}
