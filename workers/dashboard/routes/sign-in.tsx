// /signup, /login, /login/mfa, /logout. A new sign-in always gets a new session token (the old
// one, if any, is revoked); passing the second factor rotates it again.
import { Hono, type Context } from "hono";
import { z } from "zod";
import { dataKeyring, open } from "../../../shared/crypto.ts";
import { MfaPage, SignInPage, SignOutPage, SignUpPage, type FieldErrors } from "../../../web/pages/auth/sign-in.tsx";
import {
  allowSignUp,
  auditAccount,
  checkPassword,
  checkTotp,
  clearSessionCookie,
  createAccount,
  hashPassword,
  normaliseEmail,
  normaliseRecoveryCode,
  passwordProblem,
  readDeviceCookie,
  recoveryCodeHash,
  revokeSession,
  rotateSession,
  safeNext,
  secondFactorFailed,
  secondFactorGate,
  secondFactorPassed,
  startSession,
  type User,
  writeDeviceCookie,
  writeSessionCookie,
} from "../../auth/index.ts";
import { spendRecoveryCode, takeTotpStep } from "../../store/index.ts";
import { formField, formValues, requireCsrf, type WebEnv } from "../guards.ts";

export const signIn = new Hono<WebEnv>();

const WRONG = "The email or password is not right.";

signIn.get("/signup", (c) => {
  if (c.get("account")) return c.redirect("/", 303);
  return c.render(<SignUpPage />, { title: "Create account", narrow: true });
});

const SignUp = z.object({
  name: z.string().trim().min(1, "Enter your name.").max(100, "Use at most 100 characters."),
  email: z.string().max(254),
  organisation: z.string().trim().min(1, "Name your organisation.").max(100, "Use at most 100 characters."),
  password: z.string(),
});

signIn.post("/signup", async (c) => {
  const body = await formValues(c);
  const parsed = SignUp.safeParse(body);
  const values = { name: body.name ?? "", email: body.email ?? "", organisation: body.organisation ?? "" };
  const errors: FieldErrors = {};
  if (!parsed.success) for (const issue of parsed.error.issues) errors[String(issue.path[0])] ??= issue.message;
  const email = normaliseEmail(values.email);
  if (!email) errors.email = "Enter an email address like name@example.com.";
  const password = body.password ?? "";
  const problem = passwordProblem(password, [values.email, values.organisation]);
  if (problem) errors.password = problem.message;
  if (!parsed.success || !email || problem) {
    c.status(400);
    return c.render(<SignUpPage values={values} errors={errors} />, { title: "Create account", narrow: true });
  }
  if (!(await allowSignUp(c.env, c.get("source")))) {
    c.status(429);
    c.header("retry-after", "3600");
    errors.form = "Too many accounts were made from your network in the last hour. Try again later.";
    return c.render(<SignUpPage values={values} errors={errors} />, { title: "Create account", narrow: true });
  }
  const created = await createAccount(c.env, {
    email,
    name: parsed.data.name,
    orgName: parsed.data.organisation,
    passwordHash: await hashPassword(password, c.env.KEY_PEPPER),
  });
  if (!created) {
    c.status(409);
    errors.email = "An account with this email already exists. Sign in instead.";
    return c.render(<SignUpPage values={values} errors={errors} />, { title: "Create account", narrow: true });
  }
  const actor = { kind: "user", id: created.userId } as const;
  await auditAccount(c.env, [created.tenantId], {
    type: "member.joined",
    actor,
    subject: created.userId,
    source: c.get("source"),
    data: { role: "owner" },
  });
  return startSession(c, { id: created.userId, mfa_enabled_at: null }, "/", { method: "password" });
});

signIn.get("/login", (c) => {
  if (c.get("account")?.session.stage === "full") return c.redirect("/", 303);
  const notice = c.req.query("reset") === "1" ? "Your password is set. Sign in with it." : undefined;
  // Only a `next` that will be followed is carried into the form.
  const next = safeNext(c.req.query("next"));
  return c.render(<SignInPage next={next === "/" ? undefined : next} notice={notice} />, {
    title: "Sign in",
    narrow: true,
  });
});

signIn.post("/login", async (c) => {
  const body = await formValues(c);
  const email = (body.email ?? "").slice(0, 320);
  const password = body.password ?? "";
  const next = body.next;
  const result = await checkPassword(c, email, password, { source: c.get("source"), device: readDeviceCookie(c) });
  if (result.ok) {
    // A sign-in complete with the password alone makes this browser one of the account's devices.
    if (result.user.mfa_enabled_at === null) await writeDeviceCookie(c, result.user.email);
    return startSession(c, result.user, safeNext(next), { method: "password" });
  }
  let error = WRONG;
  if (result.reason === "wait") {
    c.status(429);
    c.header("retry-after", String(result.retryAfterS));
    error = `Too many attempts. Wait ${result.retryAfterS} seconds, then try again.`;
  } else c.status(401);
  return c.render(<SignInPage email={email} error={error} next={next} />, { title: "Sign in", narrow: true });
});

/** Only a session at the MFA step may use /login/mfa. */
function mfaAccount(c: Context<WebEnv>) {
  const account = c.get("account");
  return account?.session.stage === "mfa" ? account : null;
}

signIn.get("/login/mfa", (c) => {
  const account = mfaAccount(c);
  if (!account) return c.redirect("/login", 303);
  return c.render(<MfaPage csrf={account.csrf} />, { title: "Two-factor authentication", narrow: true });
});

signIn.post("/login/mfa", requireCsrf, async (c) => {
  const account = mfaAccount(c);
  if (!account) return c.redirect("/login", 303);
  const { user, session } = account;
  const source = c.get("source");
  const now = Date.now();
  const again = (error: string, status: 401 | 429) => {
    c.status(status);
    return c.render(<MfaPage csrf={account.csrf} error={error} />, {
      title: "Two-factor authentication",
      narrow: true,
    });
  };
  const from = { source, device: readDeviceCookie(c) };
  const gate = await secondFactorGate(c.env, user, from, now);
  if (!gate.open) {
    c.header("retry-after", String(gate.retryAfterS));
    return again(`Too many attempts. Wait ${gate.retryAfterS} seconds, then try again.`, 429);
  }
  const input = (await formField(c, "code")).trim();
  const method = await verifySecondFactor(c.env, user, input, now);
  if (!method) {
    await secondFactorFailed(c, user, from, now);
    return again("That code is not right, or was already used. Codes change every 30 seconds.", 401);
  }
  await secondFactorPassed(c.env, user, from);
  // Only a complete sign-in (password and second factor) makes this browser one of the devices.
  await writeDeviceCookie(c, user.email);
  const token = await rotateSession(c.env, session, { stage: "full" }, now);
  writeSessionCookie(c, token);
  const actor = { kind: "user", id: user.id } as const;
  const orgs = session.tenantId ? [session.tenantId] : [];
  await auditAccount(
    c.env,
    orgs,
    { type: "auth.signed_in", actor, subject: user.id, source, data: { method: `password+${method}` } },
    now,
  );
  if (method === "recovery_code") {
    await auditAccount(c.env, orgs, { type: "mfa.recovery_code_used", actor, subject: user.id, source }, now);
  }
  return c.redirect("/", 303);
});

/** A TOTP code (accepted once: its step must be later than the last one used) or an unused
 * recovery code (spent by this use). The name of the method that passed, or null. */
export async function verifySecondFactor(env: Env, user: User, input: string, now: number) {
  if (user.totp_secret === null) return null;
  const compact = input.replace(/[\s-]/g, "");
  if (/^\d{6}$/.test(compact)) {
    const secret = await open(dataKeyring(env.DATA_KEYS), user.totp_secret, `totp:${user.id}`);
    const check = checkTotp(secret, compact, now, user.totp_last_step);
    if (!check.ok) return null;
    return (await takeTotpStep(env.DB, user.id, check.step)) ? ("totp" as const) : null;
  }
  const code = normaliseRecoveryCode(input);
  if (!code) return null;
  const hash = await recoveryCodeHash(env.KEY_PEPPER, code);
  return (await spendRecoveryCode(env.DB, user.id, hash, now)) ? ("recovery_code" as const) : null;
}

signIn.get("/logout", (c) => {
  const account = c.get("account");
  return c.render(<SignOutPage csrf={account?.csrf ?? null} />, { title: "Sign out", narrow: true });
});

/** Signing out needs the CSRF token only when there is a session to end. */
signIn.post(
  "/logout",
  (c, next) => (c.get("account") ? requireCsrf(c, next) : next()),
  async (c) => {
    const account = c.get("account");
    if (account) {
      await revokeSession(c.env, account.user.id, account.session.id);
      if (account.session.tenantId) {
        const actor = { kind: "user", id: account.user.id } as const;
        await auditAccount(c.env, [account.session.tenantId], {
          type: "session.revoked",
          actor,
          subject: account.session.id,
          source: c.get("source"),
          data: { reason: "signed_out" },
        });
      }
    }
    clearSessionCookie(c);
    return c.redirect("/login", 303);
  },
);
