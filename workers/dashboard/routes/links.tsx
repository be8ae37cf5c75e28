// /invite/{token} and /reset/{token}: single-use links. Opening one moves its token into a short
// cookie and redirects to the token-free /invite or /reset (link-cookie.ts), which show the page
// and take its form. Accepting an invitation adds the membership (creating the account first for
// someone new) and moves the session into the organisation; a reset sets the password, clears the
// sign-in delays and signs the person out everywhere — only while the person belongs to no other
// organisation than the one whose admin made the link (docs/accounts.md).
import { Hono, type Context } from "hono";
import {
  acceptInvitation,
  acceptInvitationAsNewUser,
  findOpenInvitation,
  findOpenReset,
  tenantDb,
  useReset,
  findUserByEmail,
  vouchedForElsewhere,
} from "../../store/index.ts";
import { DeadLinkPage, InvitationPage, ResetPage, type InvitationView } from "../../../web/pages/auth/links.tsx";
import {
  accountSubject,
  allowSignUp,
  auditAccount,
  clearFailures,
  clearLinkCookie,
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
  rotateSession,
  startSession,
  writeLinkCookie,
  writeSessionCookie,
} from "../../auth/index.ts";
import { newId } from "../../../shared/ids.ts";
import { formField, formValues, requireCsrf, type WebEnv } from "../guards.ts";
import type { FieldErrors } from "../../../web/pages/auth/sign-in.tsx";

export const links = new Hono<WebEnv>();

async function openInvitation(c: Context<WebEnv>, token: string) {
  const tenantId = linkTenant(token);
  if (!tenantId) return null;
  const row = await findOpenInvitation(
    tenantDb(c.env.DB, tenantId),
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
    // Taking the invitation is one conditional update: of two racing acceptances only one wins;
    // the membership (and a new person) are written only if this acceptance took it.
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
      if (await vouchedForElsewhere(c.env.DB, inv.tenantId, a.user.id)) {
        return again({
          form: `Your account was made by another organisation's single sign-on, so it is used there only. To join ${inv.name}, sign out and accept this invitation with another email address.`,
        });
      }
      userId = a.user.id;
      if (!(await acceptInvitation(tenantDb(c.env.DB, inv.tenantId), inv.id, userId, now))) return dead(c, "invite");
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
      if (await findUserByEmail(c.env.DB, email)) {
        return again({ email: "An account with this email exists: sign in, then open this link again." }, values);
      }
      if (!(await allowSignUp(c.env, c.get("source")))) {
        const error = "Too many accounts were made from your network in the last hour. Try again later.";
        return again({ form: error }, values, 429);
      }
      userId = newId();
      const passwordHash = await hashPassword(password, c.env.KEY_PEPPER);
      const user = { id: userId, email, name: values.name, passwordHash };
      const accepted = await acceptInvitationAsNewUser(c.env.DB, inv.tenantId, inv.id, user, now);
      if (accepted === "taken") return dead(c, "invite");
      if (accepted === "email_taken") {
        return again({ email: "An account with this email exists: sign in, then open this link again." }, values);
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
  const row = await findOpenReset(tenantDb(c.env.DB, tenantId), hash, Date.now());
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
  // Taken only if still unused and the person still belongs to no other organisation (they may
  // have joined one between the page and the post): checked in the same statement.
  const passwordHash = await hashPassword(password, c.env.KEY_PEPPER);
  const used = await useReset(
    c.env.DB,
    reset.tenantId,
    { tokenHash: reset.hash, userId: reset.user.id, passwordHash },
    now,
  );
  if (!used) return dead(c, "reset");
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
