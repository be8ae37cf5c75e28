// /account and its forms: password change, TOTP enrolment and removal, recovery codes, sessions.
import { Hono, type Context } from "hono";
import { dataKeyring, open, seal } from "../../../shared/crypto.ts";
import { AccountPage, MfaSetupPage, type AccountView, type MfaView } from "../../../web/pages/auth/account.tsx";
import type { Account, WebEnv } from "../guards.ts";
import { formField, requireAccount, requireCsrf, signedIn } from "../guards.ts";
import {
  type AccountEvent,
  auditAccount,
  checkInSession,
  checkTotp,
  clearSessionCookie,
  hashPassword,
  listSessions,
  newRecoveryCodes,
  newTotpSecret,
  passwordProblem,
  qrSvgDataUri,
  readDeviceCookie,
  recoveryCodeHash,
  revokeSession,
  revokeUserSessions,
  rotateSession,
  type SessionCheck,
  totpUri,
  verifyPassword,
  writeSessionCookie,
} from "../../auth/index.ts";
import {
  changePassword,
  confirmTotp,
  countUnusedRecoveryCodes,
  removeMfa,
  replaceRecoveryCodes,
  setPendingTotp,
} from "../../store/index.ts";

export const account = new Hono<WebEnv>();
account.use("/account", requireAccount);
account.use("/account/*", requireAccount, requireCsrf);

/** Audits an action on one's own account in every organisation one belongs to. */
function auditSelf(c: Context<WebEnv>, a: Account, e: Omit<AccountEvent, "actor" | "source">) {
  const actor = { kind: "user", id: a.user.id } as const;
  return auditAccount(
    c.env,
    a.orgs.map((o) => o.tenantId),
    { ...e, actor, source: c.get("source") },
  );
}

async function accountView(c: Context<WebEnv>, a: Account): Promise<AccountView> {
  const [sessions, left] = await Promise.all([
    listSessions(c.env, a.user.id),
    countUnusedRecoveryCodes(c.env.DB, a.user.id),
  ]);
  return {
    csrf: a.csrf,
    email: a.user.email,
    name: a.user.name,
    mfaEnabled: a.user.mfa_enabled_at !== null,
    mfaRequiredBy: a.orgs.filter((o) => o.mfaRequired).map((o) => o.name),
    hasPassword: a.user.password_hash !== null,
    recoveryCodesLeft: left,
    sessions,
    currentSessionId: a.session.id,
    orgs: a.orgs.map((o) => ({ name: o.name, role: o.role })),
  };
}

/** What `?done=` may say: fixed messages, never text from the URL. */
const DONE: Record<string, string> = {
  password: "Password changed. Your other sessions were signed out.",
  "mfa-off": "Two-factor authentication is off.",
  session: "That session is signed out.",
};

account.get("/account", async (c) => {
  const a = signedIn(c);
  const notice = DONE[c.req.query("done") ?? ""];
  return c.render(<AccountPage view={await accountView(c, a)} notice={notice} />, { title: "Account" });
});

async function passwordMatches(c: Context<WebEnv>, a: Account, field = "password"): Promise<boolean> {
  if (a.user.password_hash === null) return false;
  const input = await formField(c, field);
  if (input.length > 1024) return false;
  return (await verifyPassword(input, a.user.password_hash, c.env.KEY_PEPPER)).ok;
}

/** A password (or password and code) asked for inside the session, through the sign-in throttle. */
function throttled(c: Context<WebEnv>, a: Account, during: string, check: () => Promise<boolean>) {
  return checkInSession(c, a.user, { source: c.get("source"), device: readDeviceCookie(c) }, during, check);
}

/** The message for a refused check, and 429 with Retry-After while the throttle says wait. */
function refusal(c: Context<WebEnv>, result: Exclude<SessionCheck, { ok: true }>, wrong: string): string {
  if (result.retryAfterS === null) {
    c.status(400);
    return wrong;
  }
  c.status(429);
  c.header("retry-after", String(result.retryAfterS));
  return `Too many attempts. Wait ${result.retryAfterS} seconds, then try again.`;
}

account.post("/account/password", async (c) => {
  const a = signedIn(c);
  const password = await formField(c, "password");
  const errors: Record<string, string> = {};
  const problem = passwordProblem(password, [a.user.email, ...a.orgs.map((o) => o.name)]);
  if (problem) errors.password = problem.message;
  const current = await throttled(c, a, "password_change", () => passwordMatches(c, a, "current"));
  if (!current.ok) errors.current = refusal(c, current, "That is not your current password.");
  if (Object.keys(errors).length > 0) {
    if (current.ok) c.status(400);
    return c.render(<AccountPage view={await accountView(c, a)} errors={errors} />, { title: "Account" });
  }
  const now = Date.now();
  await changePassword(c.env.DB, a.user.id, await hashPassword(password, c.env.KEY_PEPPER), now);
  await revokeUserSessions(c.env, a.user.id, a.session.id);
  writeSessionCookie(c, await rotateSession(c.env, a.session, {}, now));
  await auditSelf(c, a, { type: "auth.password_changed", subject: a.user.id });
  return c.redirect("/account?done=password", 303);
});

// ---- two-factor authentication ----------------------------------------------------------------

function ring(env: Env) {
  return dataKeyring(env.DATA_KEYS);
}

async function mfaView(c: Context<WebEnv>, a: Account): Promise<MfaView> {
  let pending: MfaView["pending"] = null;
  if (a.user.mfa_enabled_at === null && a.user.totp_pending !== null) {
    const secret = await open(ring(c.env), a.user.totp_pending, `totp:${a.user.id}`);
    const uri = totpUri({ secret, account: a.user.email, issuer: "Outlay" });
    pending = { uri, secret, qr: await qrSvgDataUri(uri) };
  }
  return {
    csrf: a.csrf,
    enabled: a.user.mfa_enabled_at !== null,
    required: a.orgs.some((o) => o.mfaRequired),
    pending,
  };
}

function mfaPage(c: Context<WebEnv>, view: MfaView, extra: { error?: string; codes?: string[] } = {}) {
  // The page may carry the setup secret: never cache it.
  c.header("cache-control", "no-store");
  return c.render(<MfaSetupPage view={view} {...extra} />, { title: "Two-factor authentication" });
}

account.get("/account/mfa", async (c) => mfaPage(c, await mfaView(c, signedIn(c))));

account.post("/account/mfa/start", async (c) => {
  const a = signedIn(c);
  if (a.user.mfa_enabled_at === null) {
    const sealed = await seal(ring(c.env), newTotpSecret(), `totp:${a.user.id}`);
    await setPendingTotp(c.env.DB, a.user.id, sealed);
  }
  return c.redirect("/account/mfa", 303);
});

/** Replaces the recovery codes with ten new ones; returns them (shown once, stored hashed). */
async function newCodes(env: Env, userId: string, now: number): Promise<string[]> {
  const codes = newRecoveryCodes();
  const hashes = await Promise.all(codes.map((code) => recoveryCodeHash(env.KEY_PEPPER, code)));
  await replaceRecoveryCodes(env.DB, userId, hashes, now);
  return codes;
}

account.post("/account/mfa/confirm", async (c) => {
  const a = signedIn(c);
  const view = await mfaView(c, a);
  if (view.enabled || a.user.totp_pending === null) return c.redirect("/account/mfa", 303);
  const now = Date.now();
  const secret = await open(ring(c.env), a.user.totp_pending, `totp:${a.user.id}`);
  const check = checkTotp(secret, await formField(c, "code"), now, null);
  if (!check.ok) {
    c.status(400);
    return mfaPage(c, view, { error: "That code is not right. Enter the code the app shows now." });
  }
  if (!(await confirmTotp(c.env.DB, a.user.id, a.user.totp_pending, check.step, now)))
    return c.redirect("/account/mfa", 303);
  const codes = await newCodes(c.env, a.user.id, now);
  // Step-up: the session gets a new token, and leaves the enrolment stage.
  writeSessionCookie(c, await rotateSession(c.env, a.session, { stage: "full" }, now));
  await auditSelf(c, a, { type: "mfa.enrolled", subject: a.user.id });
  return mfaPage(c, { ...view, enabled: true, pending: null }, { codes });
});

account.post("/account/mfa/remove", async (c) => {
  const a = signedIn(c);
  const view = await mfaView(c, a);
  if (!view.enabled) return c.redirect("/account/mfa", 303);
  if (view.required) {
    c.status(403);
    return mfaPage(c, view, { error: "An organisation you belong to requires two-factor authentication." });
  }
  const now = Date.now();
  const checked = await throttled(c, a, "mfa_remove", async () => {
    const secret = a.user.totp_secret ? await open(ring(c.env), a.user.totp_secret, `totp:${a.user.id}`) : "";
    const code = checkTotp(secret, await formField(c, "code"), now, a.user.totp_last_step);
    return (await passwordMatches(c, a)) && code.ok;
  });
  if (!checked.ok) return mfaPage(c, view, { error: refusal(c, checked, "The password or the code is not right.") });
  await removeMfa(c.env.DB, a.user.id);
  await auditSelf(c, a, { type: "mfa.removed", subject: a.user.id });
  return c.redirect("/account?done=mfa-off", 303);
});

account.post("/account/recovery-codes", async (c) => {
  const a = signedIn(c);
  const view = await mfaView(c, a);
  if (!view.enabled) return c.redirect("/account/mfa", 303);
  const checked = await throttled(c, a, "recovery_codes", () => passwordMatches(c, a));
  if (!checked.ok) return mfaPage(c, view, { error: refusal(c, checked, "That is not your password.") });
  const codes = await newCodes(c.env, a.user.id, Date.now());
  await auditSelf(c, a, { type: "mfa.recovery_codes_regenerated", subject: a.user.id });
  return mfaPage(c, view, { codes });
});

// ---- sessions --------------------------------------------------------------------------------

account.post("/account/sessions/:id/revoke", async (c) => {
  const a = signedIn(c);
  const id = c.req.param("id");
  // Only one's own sessions: another person's id (in this organisation or any other) is not
  // found, and nothing changes.
  if (!(await revokeSession(c.env, a.user.id, id))) return c.text("No such session of yours.", 404);
  await auditSelf(c, a, { type: "session.revoked", subject: id, data: { reason: "revoked" } });
  if (id === a.session.id) {
    clearSessionCookie(c);
    return c.redirect("/login", 303);
  }
  return c.redirect("/account?done=session", 303);
});

account.post("/account/sessions/revoke-all", async (c) => {
  const a = signedIn(c);
  const count = await revokeUserSessions(c.env, a.user.id);
  await auditSelf(c, a, {
    type: "session.revoked",
    subject: a.user.id,
    data: { reason: "signed_out_everywhere", count },
  });
  clearSessionCookie(c);
  return c.redirect("/login", 303);
});
