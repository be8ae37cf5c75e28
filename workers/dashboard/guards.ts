// The dashboard's guards. Every page runs `loadAccount` (the session, its person, their
// organisations); pages then state what they need: a signed-in person (`requireAccount`), a role
// permission (`requirePermission`). State changes need the session's CSRF token (`requireCsrf`)
// on top of Hono's Origin / Sec-Fetch-Site check that every form post passes. Anything that
// cannot be verified is refused: an error while loading the session propagates to a 500 page,
// never to a page served without a session.
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { keyHash, sameHash } from "../../shared/crypto.ts";
import {
  can,
  findSession,
  getUser,
  membershipsOf,
  recordAccess,
  type Account,
  type Permission,
  readSessionCookie,
  type Session,
  sourceOf,
  type WebEnv,
} from "../auth/index.ts";

export { signedIn, signedInOrg, sourceOf, type Account, type WebEnv } from "../auth/index.ts";

export function csrfToken(env: Env, session: Session): Promise<string> {
  return keyHash(env.SESSION_SECRET, `outlay/csrf/v1\0${session.id}`);
}

/** Loads the session; once the page has answered, a session's request is an access event of its
 * organisation (sign-in pages without a session belong to no organisation yet: their attempts are
 * audited as auth events). */
export const loadAccount = createMiddleware<WebEnv>(async function loadAccount(c, next) {
  const at = Date.now();
  c.set("source", sourceOf(c));
  c.set("account", null);
  let tenantId: string | null = null;
  const session = await findSession(c.env, readSessionCookie(c));
  if (session) {
    const [user, orgs, csrf] = await Promise.all([
      getUser(c.env, session.userId),
      membershipsOf(c.env, session.userId),
      csrfToken(c.env, session),
    ]);
    if (user) {
      const org = orgs.find((o) => o.tenantId === session.tenantId) ?? null;
      c.set("account", { session, user, org, orgs, csrf });
      tenantId = org?.tenantId ?? null;
    }
  }
  await next();
  if (session && tenantId) {
    recordAccess(c, { type: "access.dashboard", tenantId, actor: { kind: "user", id: session.userId }, at });
  }
});

/** Where a session that may not use the dashboard yet must go, if anywhere. */
export function pendingStep(account: Account): "/login/mfa" | "/account/mfa" | null {
  if (account.session.stage === "mfa") return "/login/mfa";
  // Asked afresh on every request: a requirement turned on mid-session applies at once, and one
  // turned off frees a session that was started at the enrolment stage.
  const mustEnrol = account.org?.mfaRequired === true && account.user.mfa_enabled_at === null;
  if (mustEnrol) return "/account/mfa";
  return null;
}

/** Pages that a session still owing its MFA enrolment may use. */
const ENROLMENT_PATHS = /^\/(account\/mfa(\/.*)?|account\/recovery-codes|logout)$/;

export const requireAccount = createMiddleware<WebEnv>(async function requireAccount(c, next) {
  const account = c.get("account");
  if (!account) {
    if (c.req.method === "GET") return c.redirect(`/login?next=${encodeURIComponent(c.req.path)}`, 303);
    return c.text("Sign in first.", 401);
  }
  const step = pendingStep(account);
  if (step === "/login/mfa" && c.req.path !== "/logout") return c.redirect(step, 303);
  if (step === "/account/mfa" && !ENROLMENT_PATHS.test(c.req.path)) return c.redirect(step, 303);
  await next();
});

/** The form's text fields (files and repeated names dropped; parseBody caches the body). */
export async function formValues(c: Context): Promise<Record<string, string>> {
  const body = await c.req.parseBody();
  const values: Record<string, string> = {};
  for (const [name, value] of Object.entries(body)) if (typeof value === "string") values[name] = value;
  return values;
}

export async function formField(c: Context, name: string): Promise<string> {
  return (await formValues(c))[name] ?? "";
}

const FORM_TYPES = /^(application\/x-www-form-urlencoded|multipart\/form-data)\b/i;

/** The pages take forms only: a post with any other body (JSON, text) is refused before a route
 * reads it, even a route used before there is a session (sign-in counts its failures). */
export const formsOnly = createMiddleware<WebEnv>(async function formsOnly(c, next) {
  const reads = c.req.method === "GET" || c.req.method === "HEAD" || c.req.method === "OPTIONS";
  if (!reads && !FORM_TYPES.test(c.req.header("content-type") ?? "")) return c.text("Send the form as a form.", 415);
  await next();
});

/** The form's `_csrf` (or the `x-csrf-token` header htmx sends) must be this session's token.
 * (`formsOnly`, before it, has already refused bodies that are not forms.) */
export const requireCsrf = createMiddleware<WebEnv>(async function requireCsrf(c, next) {
  const account = c.get("account");
  if (c.req.method === "GET" || c.req.method === "HEAD") return next();
  const sent = c.req.header("x-csrf-token") ?? (await formField(c, "_csrf"));
  if (!account || !sent || !sameHash(sent, account.csrf)) {
    return c.text("This form has expired or did not come from Outlay. Reload the page and try again.", 403);
  }
  await next();
});

export function requirePermission(permission: Permission) {
  return createMiddleware<WebEnv>(async function permitted(c, next) {
    const org = c.get("account")?.org;
    if (!org) return c.redirect("/account", 303);
    if (!can(org.role, permission)) {
      return c.text(`Your role (${org.role}) may not do this. Ask an owner or admin of ${org.name}.`, 403);
    }
    await next();
  });
}
