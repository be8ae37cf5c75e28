// /org/members and /org/invitations: members, roles, invitations, unlock, password reset links.
// Owners may do anything; admins manage everyone but owners and cannot make owners; an
// organisation always keeps at least one owner. A role change or removal signs the person out
// of the organisation at once (their sessions there are revoked; they sign in again).
// A person's password and sign-in throttle are global (one person, many organisations): an
// organisation may make a reset link or clear sign-in delays only for someone who belongs to no
// other organisation, else its admins could take over the person's access there
// (docs/accounts.md, "What an organisation may do to a person").
import { Hono, type Context } from "hono";
import {
  clearUserLock,
  deleteMembership,
  deleteOrgSessions,
  findMember,
  insertInvitation,
  insertPasswordReset,
  listMembers,
  listOpenInvitations,
  revokeInvitation,
  setMemberRole,
  tenantDb,
  belongsElsewhere,
} from "../../store/index.ts";
import { newId } from "../../../shared/ids.ts";
import { MembersPage, type MembersView } from "../../../web/pages/auth/members.tsx";
import {
  accountSubject,
  assignableRoles,
  auditInOrg,
  can,
  clearFailures,
  INVITATION_TTL_MS,
  isRole,
  linkHash,
  newLinkToken,
  normaliseEmail,
  RESET_TTL_MS,
  type Role,
  waitingAccounts,
} from "../../auth/index.ts";
import { formField, requireAccount, requireCsrf, requirePermission, signedInOrg, type WebEnv } from "../guards.ts";

export const members = new Hono<WebEnv>();
members.use("/org/*", requireAccount, requireCsrf, requirePermission("read"));
members.post("/org/members/*", requirePermission("members:manage"));
members.post("/org/invitations", requirePermission("members:manage"));
members.post("/org/invitations/*", requirePermission("members:manage"));

async function membersView(c: Context<WebEnv>): Promise<MembersView> {
  const { a, org } = signedInOrg(c);
  const db = tenantDb(c.env.DB, org.tenantId);
  const [rows, invitations] = await Promise.all([listMembers(db), listOpenInvitations(db, Date.now())]);
  // Sign-in delays matter (and can be cleared here) only for people in this organisation alone.
  const subjects = new Map(
    await Promise.all(
      rows
        .filter((r) => r.elsewhere !== 1)
        .map(async (r) => [r.user_id, await accountSubject(c.env, r.email)] as const),
    ),
  );
  const waiting = await waitingAccounts(c.env, [...subjects.values()]);
  return {
    csrf: a.csrf,
    orgName: org.name,
    selfId: a.user.id,
    canManage: can(org.role, "members:manage"),
    assignable: assignableRoles(org.role),
    members: rows.map((r) => ({
      userId: r.user_id,
      name: r.name,
      email: r.email,
      role: r.role,
      mfa: r.mfa_enabled_at !== null,
      elsewhere: r.elsewhere === 1,
      waiting: waiting.has(subjects.get(r.user_id) ?? ""),
    })),
    invitations: invitations.map((i) => ({ id: i.id, email: i.email, role: i.role, expiresAt: i.expires_at })),
  };
}

async function page(
  c: Context<WebEnv>,
  extra: { error?: string; notice?: string; link?: { label: string; url: string } } = {},
) {
  if (extra.error) c.status(400);
  if (extra.link) c.header("cache-control", "no-store");
  return c.render(<MembersPage view={await membersView(c)} {...extra} />, { title: "Members" });
}

members.get("/org/members", (c) => page(c));

members.post("/org/invitations", async (c) => {
  const { a, org } = signedInOrg(c);
  const role = await formField(c, "role");
  const emailInput = (await formField(c, "email")).trim();
  const email = emailInput === "" ? null : normaliseEmail(emailInput);
  if (!isRole(role) || !assignableRoles(org.role).includes(role))
    return page(c, { error: "Choose a role you may give." });
  if (emailInput !== "" && !email)
    return page(c, { error: "Enter an email address like name@example.com, or leave it empty." });
  const token = newLinkToken(org.tenantId);
  const id = newId();
  const now = Date.now();
  await insertInvitation(tenantDb(c.env.DB, org.tenantId), {
    id,
    token_hash: await linkHash(c.env, "invite", token),
    email,
    role,
    created_by: a.user.id,
    created_at: now,
    expires_at: now + INVITATION_TTL_MS,
  });
  await auditInOrg(c, { type: "member.invited", subject: id, data: { role, email } });
  const url = `${new URL(c.req.url).origin}/invite/${token}`;
  return page(c, { link: { label: `Invitation link (${role}, valid 7 days, single use).`, url } });
});

members.post("/org/invitations/:id/revoke", async (c) => {
  const { org } = signedInOrg(c);
  const id = c.req.param("id");
  if (!(await revokeInvitation(tenantDb(c.env.DB, org.tenantId), id, Date.now())))
    return page(c, { error: "No such open invitation." });
  await auditInOrg(c, { type: "member.invitation_revoked", subject: id });
  return page(c, { notice: "Invitation revoked." });
});

/** The member a form acts on, if the actor may act on them. */
async function target(c: Context<WebEnv>): Promise<{ userId: string; role: Role; email: string } | string> {
  const { a, org } = signedInOrg(c);
  const userId = c.req.param("id") ?? "";
  const row = await findMember(tenantDb(c.env.DB, org.tenantId), userId);
  if (!row) return "No such member.";
  if (userId === a.user.id) return "You cannot change your own membership here.";
  if (!assignableRoles(org.role).includes(row.role)) return "Only an owner can change an owner.";
  return { userId, role: row.role, email: row.email };
}

members.post("/org/members/:id/role", async (c) => {
  const { org } = signedInOrg(c);
  const t = await target(c);
  if (typeof t === "string") return page(c, { error: t });
  const role = await formField(c, "role");
  if (!isRole(role) || !assignableRoles(org.role).includes(role))
    return page(c, { error: "Choose a role you may give." });
  if (role === t.role) return page(c, { notice: "Nothing changed." });
  await setMemberRole(tenantDb(c.env.DB, org.tenantId), t.userId, role);
  await deleteOrgSessions(c.env.DB, org.tenantId, t.userId);
  await auditInOrg(c, { type: "member.role_changed", subject: t.userId, data: { from: t.role, to: role } });
  return page(c, { notice: `${t.email} is now ${role === "admin" ? "an" : "a"} ${role}.` });
});

members.post("/org/members/:id/remove", async (c) => {
  const { org } = signedInOrg(c);
  const t = await target(c);
  if (typeof t === "string") return page(c, { error: t });
  await deleteMembership(tenantDb(c.env.DB, org.tenantId), t.userId);
  await deleteOrgSessions(c.env.DB, org.tenantId, t.userId);
  await auditInOrg(c, { type: "member.removed", subject: t.userId, data: { role: t.role } });
  return page(c, { notice: `${t.email} was removed.` });
});

/** Why this organisation may not change the person's global credentials, or null when it may. */
async function notOnlyHere(env: Env, tenantId: string, t: { userId: string; email: string }) {
  if (!(await belongsElsewhere(env.DB, tenantId, t.userId))) return null;
  return `${t.email} also belongs to another organisation. Their password and sign-in are theirs in every organisation, so only they can change them (signed in, on their account page).`;
}

members.post("/org/members/:id/unlock", async (c) => {
  const { org } = signedInOrg(c);
  const t = await target(c);
  if (typeof t === "string") return page(c, { error: t });
  const refused = await notOnlyHere(c.env, org.tenantId, t);
  if (refused) return page(c, { error: refused });
  await clearFailures(c.env, await accountSubject(c.env, t.email));
  await clearUserLock(c.env.DB, t.userId);
  await auditInOrg(c, { type: "auth.unlocked", subject: t.userId });
  return page(c, { notice: `${t.email} can sign in again without waiting.` });
});

members.post("/org/members/:id/reset-link", async (c) => {
  const { a, org } = signedInOrg(c);
  const t = await target(c);
  if (typeof t === "string") return page(c, { error: t });
  const refused = await notOnlyHere(c.env, org.tenantId, t);
  if (refused) return page(c, { error: refused });
  const token = newLinkToken(org.tenantId);
  const now = Date.now();
  await insertPasswordReset(tenantDb(c.env.DB, org.tenantId), {
    token_hash: await linkHash(c.env, "reset", token),
    user_id: t.userId,
    created_by: a.user.id,
    created_at: now,
    expires_at: now + RESET_TTL_MS,
  });
  await auditInOrg(c, { type: "auth.password_reset_issued", subject: t.userId });
  const url = `${new URL(c.req.url).origin}/reset/${token}`;
  return page(c, { link: { label: `Password reset link for ${t.email} (valid 1 hour, single use).`, url } });
});
