// Members of an organisation: invitations, roles, removal, and what an organisation may do to a
// person's global sign-in (clear sign-in delays, issue a password reset link). Owners may do
// anything; admins manage everyone but owners and cannot make owners; nobody changes their own
// membership here, so an organisation always keeps an owner. A role change or a removal signs the
// person out of the organisation at once. A person's password and sign-in throttle are global
// (one person, many organisations): an organisation may touch them only for someone who belongs
// to no other organisation (docs/accounts.md, "What an organisation may do to a person").
// Each operation is audited in the organisation and answers a value or an AppError whose message
// can be shown as it is.
import { AppError } from "../../shared/errors.ts";
import { newId } from "../../shared/ids.ts";
import {
  accountSubject,
  assignableRoles,
  auditAccount,
  clearFailures,
  INVITATION_TTL_MS,
  isRole,
  linkHash,
  newLinkToken,
  normaliseEmail,
  RESET_TTL_MS,
  type AccountEvent,
  type Role,
} from "../auth/index.ts";
import {
  belongsElsewhere,
  clearUserLock,
  deleteMembership,
  deleteOrgSessions,
  findMember,
  insertInvitation,
  insertPasswordReset,
  revokeInvitation,
  setMemberRole,
  tenantDb,
} from "../store/index.ts";

/** Who acts: a signed-in person in their current organisation, and the address they came from. */
export type MemberActor = { tenantId: string; userId: string; role: Role; source: string };

/** The member an action is about. */
export type MemberTarget = { userId: string; role: Role; email: string };

function audit(env: Env, by: MemberActor, e: Omit<AccountEvent, "actor" | "source">): Promise<void> {
  return auditAccount(env, [by.tenantId], { ...e, actor: { kind: "user", id: by.userId }, source: by.source });
}

/** `role`, if it is one `by` may give. */
function givableRole(by: MemberActor, role: string): Role | AppError {
  if (isRole(role) && assignableRoles(by.role).includes(role)) return role;
  return new AppError("bad_request", "Choose a role you may give.", "role");
}

/** A single-use invitation link's token for `role`, for anyone or (with an email) one person. */
export async function inviteMember(
  env: Env,
  by: MemberActor,
  input: { role: string; email: string },
): Promise<{ token: string; role: Role } | AppError> {
  const role = givableRole(by, input.role);
  if (role instanceof AppError) return role;
  const emailInput = input.email.trim();
  const email = emailInput === "" ? null : normaliseEmail(emailInput);
  if (emailInput !== "" && !email) {
    return new AppError("bad_request", "Enter an email address like name@example.com, or leave it empty.", "email");
  }
  const token = newLinkToken(by.tenantId);
  const id = newId();
  const now = Date.now();
  await insertInvitation(tenantDb(env.DB, by.tenantId), {
    id,
    token_hash: await linkHash(env, "invite", token),
    email,
    role,
    created_by: by.userId,
    created_at: now,
    expires_at: now + INVITATION_TTL_MS,
  });
  await audit(env, by, { type: "member.invited", subject: id, data: { role, email } });
  return { token, role };
}

export async function revokeMemberInvitation(env: Env, by: MemberActor, id: string): Promise<null | AppError> {
  if (!(await revokeInvitation(tenantDb(env.DB, by.tenantId), id, Date.now()))) {
    return new AppError("not_found", "No such open invitation.");
  }
  await audit(env, by, { type: "member.invitation_revoked", subject: id });
  return null;
}

/** The member `userId`, if `by` may act on them. */
async function memberTarget(env: Env, by: MemberActor, userId: string): Promise<MemberTarget | AppError> {
  const row = await findMember(tenantDb(env.DB, by.tenantId), userId);
  if (!row) return new AppError("not_found", "No such member.");
  if (userId === by.userId) return new AppError("forbidden", "You cannot change your own membership here.");
  if (!assignableRoles(by.role).includes(row.role))
    return new AppError("forbidden", "Only an owner can change an owner.");
  return { userId, role: row.role, email: row.email };
}

/** Gives member `userId` another role and signs them out of the organisation. */
export async function changeMemberRole(
  env: Env,
  by: MemberActor,
  userId: string,
  wanted: string,
): Promise<{ member: MemberTarget; role: Role; changed: boolean } | AppError> {
  const member = await memberTarget(env, by, userId);
  if (member instanceof AppError) return member;
  const role = givableRole(by, wanted);
  if (role instanceof AppError) return role;
  if (role === member.role) return { member, role, changed: false };
  await setMemberRole(tenantDb(env.DB, by.tenantId), member.userId, role);
  await deleteOrgSessions(env.DB, by.tenantId, member.userId);
  await audit(env, by, { type: "member.role_changed", subject: member.userId, data: { from: member.role, to: role } });
  return { member, role, changed: true };
}

/** Removes member `userId` from the organisation and signs them out of it. */
export async function removeMember(env: Env, by: MemberActor, userId: string): Promise<MemberTarget | AppError> {
  const member = await memberTarget(env, by, userId);
  if (member instanceof AppError) return member;
  await deleteMembership(tenantDb(env.DB, by.tenantId), member.userId);
  await deleteOrgSessions(env.DB, by.tenantId, member.userId);
  await audit(env, by, { type: "member.removed", subject: member.userId, data: { role: member.role } });
  return member;
}

/** Member `userId`, if this organisation may change their global sign-in (they belong nowhere else). */
async function onlyHere(env: Env, by: MemberActor, userId: string): Promise<MemberTarget | AppError> {
  const member = await memberTarget(env, by, userId);
  if (member instanceof AppError) return member;
  if (!(await belongsElsewhere(env.DB, by.tenantId, member.userId))) return member;
  return new AppError(
    "forbidden",
    `${member.email} also belongs to another organisation. Their password and sign-in are theirs in every organisation, so only they can change them (signed in, on their account page).`,
  );
}

/** Clears member `userId`'s sign-in delays. */
export async function unlockMember(env: Env, by: MemberActor, userId: string): Promise<MemberTarget | AppError> {
  const member = await onlyHere(env, by, userId);
  if (member instanceof AppError) return member;
  await clearFailures(env, await accountSubject(env, member.email));
  await clearUserLock(env.DB, member.userId);
  await audit(env, by, { type: "auth.unlocked", subject: member.userId });
  return member;
}

/** A single-use password reset link's token for member `userId`. */
export async function issueResetLink(
  env: Env,
  by: MemberActor,
  userId: string,
): Promise<{ member: MemberTarget; token: string } | AppError> {
  const member = await onlyHere(env, by, userId);
  if (member instanceof AppError) return member;
  const token = newLinkToken(by.tenantId);
  const now = Date.now();
  await insertPasswordReset(tenantDb(env.DB, by.tenantId), {
    token_hash: await linkHash(env, "reset", token),
    user_id: member.userId,
    created_by: by.userId,
    created_at: now,
    expires_at: now + RESET_TTL_MS,
  });
  await audit(env, by, { type: "auth.password_reset_issued", subject: member.userId });
  return { member, token };
}
