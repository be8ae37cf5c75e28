// /org/members and /org/invitations: members, roles, invitations, unlock, password reset links.
// The rules (who may change whom, what an organisation may do to a person's global sign-in) and
// the changes themselves are the members service's (workers/services/members.ts); these handlers
// read the forms and show the outcome.
import { Hono, type Context } from "hono";
import { AppError } from "../../../shared/errors.ts";
import { MembersPage, type MembersView } from "../../../web/pages/auth/members.tsx";
import { accountSubject, assignableRoles, can, waitingAccounts } from "../../auth/index.ts";
import {
  changeMemberRole,
  inviteMember,
  issueResetLink,
  type MemberActor,
  removeMember,
  revokeMemberInvitation,
  unlockMember,
} from "../../services/index.ts";
import { listMembers, listOpenInvitations, tenantDb } from "../../store/index.ts";
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

/** The signed-in person as the members service's actor. */
function actor(c: Context<WebEnv>): MemberActor {
  const { a, org } = signedInOrg(c);
  return { tenantId: org.tenantId, userId: a.user.id, role: org.role, source: c.get("source") };
}

members.post("/org/invitations", async (c) => {
  const invited = await inviteMember(c.env, actor(c), {
    role: await formField(c, "role"),
    email: await formField(c, "email"),
  });
  if (invited instanceof AppError) return page(c, { error: invited.message });
  const url = `${new URL(c.req.url).origin}/invite/${invited.token}`;
  return page(c, { link: { label: `Invitation link (${invited.role}, valid 7 days, single use).`, url } });
});

members.post("/org/invitations/:id/revoke", async (c) => {
  const refused = await revokeMemberInvitation(c.env, actor(c), c.req.param("id"));
  if (refused) return page(c, { error: refused.message });
  return page(c, { notice: "Invitation revoked." });
});

members.post("/org/members/:id/role", async (c) => {
  const changed = await changeMemberRole(c.env, actor(c), c.req.param("id"), await formField(c, "role"));
  if (changed instanceof AppError) return page(c, { error: changed.message });
  if (!changed.changed) return page(c, { notice: "Nothing changed." });
  const { member, role } = changed;
  return page(c, { notice: `${member.email} is now ${role === "admin" ? "an" : "a"} ${role}.` });
});

members.post("/org/members/:id/remove", async (c) => {
  const removed = await removeMember(c.env, actor(c), c.req.param("id"));
  if (removed instanceof AppError) return page(c, { error: removed.message });
  return page(c, { notice: `${removed.email} was removed.` });
});

members.post("/org/members/:id/unlock", async (c) => {
  const unlocked = await unlockMember(c.env, actor(c), c.req.param("id"));
  if (unlocked instanceof AppError) return page(c, { error: unlocked.message });
  return page(c, { notice: `${unlocked.email} can sign in again without waiting.` });
});

members.post("/org/members/:id/reset-link", async (c) => {
  const issued = await issueResetLink(c.env, actor(c), c.req.param("id"));
  if (issued instanceof AppError) return page(c, { error: issued.message });
  const url = `${new URL(c.req.url).origin}/reset/${issued.token}`;
  return page(c, {
    link: { label: `Password reset link for ${issued.member.email} (valid 1 hour, single use).`, url },
  });
});
