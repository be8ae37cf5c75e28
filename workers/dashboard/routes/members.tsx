// /org/members and /org/invitations: members, roles, invitations, unlock, password reset links.
// Owners may do anything; admins manage everyone but owners and cannot make owners; an
// organisation always keeps at least one owner. A role change or removal signs the person out
// of the organisation at once (their sessions there are revoked; they sign in again).
// A person's password and sign-in throttle are global (one person, many organisations): an
// organisation may make a reset link or clear sign-in delays only for someone who belongs to no
// other organisation, else its admins could take over the person's access there
// (docs/accounts.md, "What an organisation may do to a person").
import { Hono, type Context } from "hono";
import { tenantDb } from "../../store/index.ts";
import { newId } from "../../../shared/ids.ts";
import { MembersPage, type MembersView } from "../../../web/pages/auth/members.tsx";
import {
  accountSubject,
  assignableRoles,
  auditInOrg,
  belongsElsewhere,
  can,
  clearFailures,
  elsewhereSql,
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

type MemberQueryRow = {
  user_id: string;
  name: string;
  email: string;
  role: Role;
  mfa_enabled_at: number | null;
  elsewhere: number;
};

async function membersView(c: Context<WebEnv>): Promise<MembersView> {
  const { a, org } = signedInOrg(c);
  const db = tenantDb(c.env.DB, org.tenantId);
  const [rows, invitations] = await Promise.all([
    db.all<MemberQueryRow>(
      `SELECT m.user_id, u.name, u.email, m.role, u.mfa_enabled_at, ${elsewhereSql("m.user_id", "m.tenant_id")} AS elsewhere
       FROM memberships m JOIN users u ON u.id = m.user_id
       WHERE m.tenant_id = ?1 ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 WHEN 'member' THEN 2 ELSE 3 END, u.email`,
    ),
    db.all<{ id: string; email: string | null; role: Role; expires_at: number }>(
      `SELECT id, email, role, expires_at FROM invitations WHERE tenant_id = ?1 AND accepted_at IS NULL AND revoked_at IS NULL
       AND expires_at > ?2 ORDER BY created_at DESC`,
      Date.now(),
    ),
  ]);
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
  await tenantDb(c.env.DB, org.tenantId).run(
    `INSERT INTO invitations (tenant_id, id, token_hash, email, role, created_by, created_at, expires_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)`,
    id,
    await linkHash(c.env, "invite", token),
    email,
    role,
    a.user.id,
    now,
    now + INVITATION_TTL_MS,
  );
  await auditInOrg(c, { type: "member.invited", subject: id, data: { role, email } });
  const url = `${new URL(c.req.url).origin}/invite/${token}`;
  return page(c, { link: { label: `Invitation link (${role}, valid 7 days, single use).`, url } });
});

members.post("/org/invitations/:id/revoke", async (c) => {
  const { org } = signedInOrg(c);
  const id = c.req.param("id");
  const result = await tenantDb(c.env.DB, org.tenantId).run(
    "UPDATE invitations SET revoked_at = ?2 WHERE tenant_id = ?1 AND id = ?3 AND accepted_at IS NULL AND revoked_at IS NULL",
    Date.now(),
    id,
  );
  if (result.meta.changes === 0) return page(c, { error: "No such open invitation." });
  await auditInOrg(c, { type: "member.invitation_revoked", subject: id });
  return page(c, { notice: "Invitation revoked." });
});

/** The member a form acts on, if the actor may act on them. */
async function target(c: Context<WebEnv>): Promise<{ userId: string; role: Role; email: string } | string> {
  const { a, org } = signedInOrg(c);
  const userId = c.req.param("id") ?? "";
  const row = await tenantDb(c.env.DB, org.tenantId).first<{ role: Role; email: string }>(
    "SELECT m.role, u.email FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.tenant_id = ?1 AND m.user_id = ?2",
    userId,
  );
  if (!row) return "No such member.";
  if (userId === a.user.id) return "You cannot change your own membership here.";
  if (!assignableRoles(org.role).includes(row.role)) return "Only an owner can change an owner.";
  return { userId, role: row.role, email: row.email };
}

async function signOutOfOrg(env: Env, tenantId: string, userId: string) {
  await env.DB.prepare("DELETE FROM sessions WHERE user_id = ? AND tenant_id = ?").bind(userId, tenantId).run();
}

members.post("/org/members/:id/role", async (c) => {
  const { org } = signedInOrg(c);
  const t = await target(c);
  if (typeof t === "string") return page(c, { error: t });
  const role = await formField(c, "role");
  if (!isRole(role) || !assignableRoles(org.role).includes(role))
    return page(c, { error: "Choose a role you may give." });
  if (role === t.role) return page(c, { notice: "Nothing changed." });
  await tenantDb(c.env.DB, org.tenantId).run(
    "UPDATE memberships SET role = ?3 WHERE tenant_id = ?1 AND user_id = ?2",
    t.userId,
    role,
  );
  await signOutOfOrg(c.env, org.tenantId, t.userId);
  await auditInOrg(c, { type: "member.role_changed", subject: t.userId, data: { from: t.role, to: role } });
  return page(c, { notice: `${t.email} is now ${role === "admin" ? "an" : "a"} ${role}.` });
});

members.post("/org/members/:id/remove", async (c) => {
  const { org } = signedInOrg(c);
  const t = await target(c);
  if (typeof t === "string") return page(c, { error: t });
  await tenantDb(c.env.DB, org.tenantId).run("DELETE FROM memberships WHERE tenant_id = ?1 AND user_id = ?2", t.userId);
  await signOutOfOrg(c.env, org.tenantId, t.userId);
  await auditInOrg(c, { type: "member.removed", subject: t.userId, data: { role: t.role } });
  return page(c, { notice: `${t.email} was removed.` });
});

/** Why this organisation may not change the person's global credentials, or null when it may. */
async function notOnlyHere(env: Env, tenantId: string, t: { userId: string; email: string }) {
  if (!(await belongsElsewhere(env, tenantId, t.userId))) return null;
  return `${t.email} also belongs to another organisation. Their password and sign-in are theirs in every organisation, so only they can change them (signed in, on their account page).`;
}

members.post("/org/members/:id/unlock", async (c) => {
  const { org } = signedInOrg(c);
  const t = await target(c);
  if (typeof t === "string") return page(c, { error: t });
  const refused = await notOnlyHere(c.env, org.tenantId, t);
  if (refused) return page(c, { error: refused });
  await clearFailures(c.env, await accountSubject(c.env, t.email));
  await c.env.DB.prepare("UPDATE users SET locked_at = NULL WHERE id = ?").bind(t.userId).run();
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
  await tenantDb(c.env.DB, org.tenantId).run(
    `INSERT INTO password_resets (tenant_id, token_hash, user_id, created_by, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)`,
    await linkHash(c.env, "reset", token),
    t.userId,
    a.user.id,
    now,
    now + RESET_TTL_MS,
  );
  await auditInOrg(c, { type: "auth.password_reset_issued", subject: t.userId });
  const url = `${new URL(c.req.url).origin}/reset/${token}`;
  return page(c, { link: { label: `Password reset link for ${t.email} (valid 1 hour, single use).`, url } });
});
