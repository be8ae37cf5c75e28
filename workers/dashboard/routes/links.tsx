// /invite/{token} and /reset/{token}: single-use links. Opening one moves its token into a short
// cookie and redirects to the token-free /invite or /reset (link-cookie.ts), which show the page
// and take its form. Accepting an invitation adds the membership (creating the account first for
// someone new) and moves the session into the organisation; a reset sets the password, clears the
// sign-in delays and signs the person out everywhere — only while the person belongs to no other
// organisation than the one whose admin made the link (docs/accounts.md).
import { Hono, type Context } from "hono";
import { tenantDb } from "../../store/index.ts";
import { DeadLinkPage, InvitationPage, ResetPage, type InvitationView } from "../../../web/pages/auth/links.tsx";
import {
  accountSubject,
  allowSignUp,
  auditAccount,
  clearFailures,
  clearLinkCookie,
  elsewhereSql,
  findUserByEmail,
  getUser,
  hashPassword,
  linkHash,
  type LinkKind,
  linkTenant,
  membershipsOf,
  normaliseEmail,
  passwordProblem,
  readLinkCookie,
  revokeUserSessions,
  type Role,
  rotateSession,
  startSession,
  vouchedForElsewhere,
  writeLinkCookie,
  writeSessionCookie,
} from "../../auth/index.ts";
import { newId } from "../../../shared/ids.ts";
import { formField, formValues, requireCsrf, type WebEnv } from "../guards.ts";
import type { FieldErrors } from "../../../web/pages/auth/sign-in.tsx";

export const links = new Hono<WebEnv>();

type InvitationRow = { id: string; email: string | null; role: Role; name: string; expires_at: number };

async function openInvitation(
  c: Context<WebEnv>,
  token: string,
): Promise<(InvitationRow & { tenantId: string; token: string }) | null> {
  const tenantId = linkTenant(token);
  if (!tenantId) return null;
  const row = await tenantDb(c.env.DB, tenantId).first<InvitationRow>(
    `SELECT i.id, i.email, i.role, t.name, i.expires_at FROM invitations i JOIN tenants t ON t.id = i.tenant_id
     WHERE i.tenant_id = ?1 AND i.token_hash = ?2 AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > ?3
     AND t.closed_at IS NULL`,
    await linkHash(c.env, "invite", token),
    Date.now(),
  );
  return row ? { ...row, tenantId, token } : null;
}

function dead(c: Context<WebEnv>, kind: LinkKind) {
  clearLinkCookie(c, kind);
  c.status(404);
  const what = kind === "invite" ? "invitation" : "password reset";
  return c.render(<DeadLinkPage what={what} />, { title: "Link not valid", narrow: true });
}

/** The link's first request: its token goes into the cookie, the browser to the token-free page. */
links.get("/invite/:token", async (c) => {
  const inv = await openInvitation(c, c.req.param("token"));
  if (!inv) return dead(c, "invite");
  writeLinkCookie(c, "invite", inv.token, inv.expires_at);
  return c.redirect("/invite", 303);
});

links.get("/invite", async (c) => {
  const inv = await openInvitation(c, readLinkCookie(c, "invite"));
  if (!inv) return dead(c, "invite");
  const a = c.get("account");
  const view: InvitationView = { orgName: inv.name, role: inv.role, email: inv.email };
  const signedInAs = a?.session.stage === "full" ? { email: a.user.email, csrf: a.csrf } : null;
  c.header("cache-control", "no-store");
  return c.render(<InvitationPage view={view} signedInAs={signedInAs} />, { title: `Join ${inv.name}`, narrow: true });
});

links.post(
  "/invite",
  (c, next) => (c.get("account") ? requireCsrf(c, next) : next()),
  async (c) => {
    const inv = await openInvitation(c, readLinkCookie(c, "invite"));
    if (!inv) return dead(c, "invite");
    const a = c.get("account");
    const now = Date.now();
    const db = tenantDb(c.env.DB, inv.tenantId);
    // Taking the invitation is one conditional update: of two racing acceptances only one wins.
    const take = (userId: string) =>
      db.prepare(
        "UPDATE invitations SET accepted_at = ?2, accepted_by = ?3 WHERE tenant_id = ?1 AND id = ?4 AND accepted_at IS NULL",
        now,
        userId,
        inv.id,
      );
    // ...and the membership (and a new person) are written only if this acceptance took it.
    const join = (userId: string) =>
      db.prepare(
        `INSERT INTO memberships (tenant_id, user_id, role, created_at) SELECT ?1, ?2, role, ?3 FROM invitations
       WHERE tenant_id = ?1 AND id = ?4 AND accepted_by = ?2 AND accepted_at = ?3`,
        userId,
        now,
        inv.id,
      );
    const view: InvitationView = { orgName: inv.name, role: inv.role, email: inv.email };
    const again = (errors: FieldErrors, values?: Record<string, string>, status: 400 | 429 = 400) => {
      c.status(status);
      const signedInAs = a?.session.stage === "full" ? { email: a.user.email, csrf: a.csrf } : null;
      return c.render(<InvitationPage view={view} signedInAs={signedInAs} errors={errors} values={values} />, {
        title: `Join ${inv.name}`,
        narrow: true,
      });
    };

    let userId: string;
    if (a && a.session.stage === "full") {
      if (inv.email && inv.email !== a.user.email) return again({ form: `This invitation is for ${inv.email}.` });
      if (a.orgs.some((o) => o.tenantId === inv.tenantId))
        return again({ form: `You are already a member of ${inv.name}.` });
      if (await vouchedForElsewhere(c.env, inv.tenantId, a.user.id)) {
        return again({
          form: `Your account was made by another organisation's single sign-on, so it is used there only. To join ${inv.name}, sign out and accept this invitation with another email address.`,
        });
      }
      userId = a.user.id;
      const [taken] = await db.batch([take(userId), join(userId)]);
      if (taken?.meta.changes !== 1) return dead(c, "invite");
      writeSessionCookie(c, await rotateSession(c.env, a.session, { tenantId: inv.tenantId }, now));
    } else {
      const body = await formValues(c);
      const values = { name: (body.name ?? "").trim(), email: body.email ?? "" };
      const password = body.password ?? "";
      const email = normaliseEmail(values.email);
      const errors: FieldErrors = {};
      if (values.name.length < 1 || values.name.length > 100) errors.name = "Enter your name (at most 100 characters).";
      if (!email) errors.email = "Enter an email address like name@example.com.";
      else if (inv.email && inv.email !== email) errors.email = `This invitation is for ${inv.email}.`;
      const problem = passwordProblem(password, [values.email, inv.name]);
      if (problem) errors.password = problem.message;
      if (Object.keys(errors).length > 0 || !email) return again(errors, values);
      if (await findUserByEmail(c.env, email)) {
        return again({ email: "An account with this email exists: sign in, then open this link again." }, values);
      }
      if (!(await allowSignUp(c.env, c.get("source")))) {
        const error = "Too many accounts were made from your network in the last hour. Try again later.";
        return again({ form: error }, values, 429);
      }
      userId = newId();
      const passwordHash = await hashPassword(password, c.env.KEY_PEPPER);
      try {
        const [taken] = await c.env.DB.batch([
          take(userId),
          c.env.DB.prepare(
            `INSERT INTO users (id, email, name, password_hash, password_changed_at, created_at)
           SELECT ?1, ?2, ?3, ?4, ?5, ?5 WHERE EXISTS
           (SELECT 1 FROM invitations WHERE tenant_id = ?7 AND id = ?6 AND accepted_by = ?1)`,
          ).bind(userId, email, values.name, passwordHash, now, inv.id, inv.tenantId),
          join(userId),
        ]);
        if (taken?.meta.changes !== 1) return dead(c, "invite");
      } catch (error) {
        if (error instanceof Error && /UNIQUE constraint failed: users\.email/.test(error.message)) {
          return again({ email: "An account with this email exists: sign in, then open this link again." }, values);
        }
        throw error;
      }
    }
    const actor = { kind: "user", id: userId } as const;
    await auditAccount(
      c.env,
      [inv.tenantId],
      {
        type: "member.joined",
        actor,
        subject: userId,
        source: c.get("source"),
        data: { role: inv.role, invitation: inv.id },
      },
      now,
    );
    clearLinkCookie(c, "invite");
    if (a && a.session.stage === "full") return c.redirect("/", 303);
    return startSession(c, { id: userId, mfa_enabled_at: null }, "/", { method: "password", tenantId: inv.tenantId });
  },
);

// ---- password reset --------------------------------------------------------------------------

/** A live reset link, for a person who still belongs to no organisation but the link's. A person
 * who joined another organisation since the link was made is no longer the link's to reset. */
async function openReset(c: Context<WebEnv>, token: string) {
  const tenantId = linkTenant(token);
  if (!tenantId) return null;
  const hash = await linkHash(c.env, "reset", token);
  const row = await tenantDb(c.env.DB, tenantId).first<{ user_id: string; expires_at: number }>(
    `SELECT r.user_id, r.expires_at FROM password_resets r WHERE r.tenant_id = ?1 AND r.token_hash = ?2
     AND r.used_at IS NULL AND r.expires_at > ?3 AND NOT ${elsewhereSql("r.user_id", "r.tenant_id")}`,
    hash,
    Date.now(),
  );
  const user = row ? await getUser(c.env, row.user_id) : null;
  return user && row ? { token, tenantId, hash, user, expiresAt: row.expires_at } : null;
}

links.get("/reset/:token", async (c) => {
  const reset = await openReset(c, c.req.param("token"));
  if (!reset) return dead(c, "reset");
  writeLinkCookie(c, "reset", reset.token, reset.expiresAt);
  return c.redirect("/reset", 303);
});

links.get("/reset", async (c) => {
  const reset = await openReset(c, readLinkCookie(c, "reset"));
  if (!reset) return dead(c, "reset");
  c.header("cache-control", "no-store");
  return c.render(<ResetPage email={reset.user.email} />, { title: "New password", narrow: true });
});

links.post("/reset", async (c) => {
  const reset = await openReset(c, readLinkCookie(c, "reset"));
  if (!reset) return dead(c, "reset");
  const password = await formField(c, "password");
  const problem = passwordProblem(password, [reset.user.email]);
  if (problem) {
    c.status(400);
    return c.render(<ResetPage email={reset.user.email} error={problem.message} />, {
      title: "New password",
      narrow: true,
    });
  }
  const now = Date.now();
  const [used] = await c.env.DB.batch([
    // Taken only if still unused and the person still belongs to no other organisation (they
    // may have joined one between the page and the post): checked in the same statement.
    tenantDb(c.env.DB, reset.tenantId).prepare(
      `UPDATE password_resets SET used_at = ?2 WHERE tenant_id = ?1 AND token_hash = ?3 AND used_at IS NULL
       AND expires_at > ?2 AND NOT ${elsewhereSql("password_resets.user_id", "?1")}`,
      now,
      reset.hash,
    ),
    c.env.DB.prepare(
      `UPDATE users SET password_hash = ?1, password_changed_at = ?2, locked_at = NULL
       WHERE id = ?3 AND EXISTS (SELECT 1 FROM password_resets WHERE token_hash = ?4 AND used_at = ?2)`,
    ).bind(await hashPassword(password, c.env.KEY_PEPPER), now, reset.user.id, reset.hash),
  ]);
  if (used?.meta.changes !== 1) return dead(c, "reset");
  clearLinkCookie(c, "reset");
  await clearFailures(c.env, await accountSubject(c.env, reset.user.email));
  await revokeUserSessions(c.env, reset.user.id);
  // In every organisation the person belongs to (today only the link's; should that ever widen,
  // each of them still hears of it).
  const orgs = new Set([reset.tenantId, ...(await membershipsOf(c.env, reset.user.id)).map((o) => o.tenantId)]);
  const actor = { kind: "user", id: reset.user.id } as const;
  await auditAccount(
    c.env,
    [...orgs],
    {
      type: "auth.password_reset",
      actor,
      subject: reset.user.id,
      source: c.get("source"),
      data: { issuedIn: reset.tenantId },
    },
    now,
  );
  return c.redirect("/login?reset=1", 303);
});
