// The password step of sign-in: throttle gate, scrypt check, failure counting. The refusals read
// the same for an account that exists and one that does not: the gate is keyed by the email
// either way, and an unknown email is checked against a decoy hash so it spends the same scrypt
// time. Every other place that checks a password or a code (the second factor, and inside a
// session: password change, new recovery codes, turning MFA off) goes through the same gate and
// counts its failures the same way (`checkInSession`).
import { findUserByEmail, rehashPassword } from "../store/index.ts";
import { membershipsOf, normaliseEmail, type User } from "./accounts.ts";
import { auditAccount } from "./audit.ts";
import { DECOY_HASH, hashPassword, verifyPassword } from "./password.ts";
import { countedFor } from "./device.ts";
import { clearCounted, recordFailure, signInGate } from "./throttle.ts";

export type PasswordCheck =
  | { ok: true; user: User }
  | { ok: false; reason: "wrong" }
  | { ok: false; reason: "wait"; retryAfterS: number };

/** What these need of a request: its bindings, and waitUntil for audits sent after the answer. */
type RequestScope = { env: Env; executionCtx: Pick<ExecutionContext, "waitUntil"> };

/** Longer input is refused before hashing (it is no one's password: the rules stop at 256). */
const MAX_INPUT = 1024;

/** Where an attempt comes from: its address, and the browser's device cookie if it sent one. */
export type Origin = { source: string; device: string | undefined };

export async function checkPassword(
  c: RequestScope,
  emailInput: string,
  password: string,
  from: Origin,
  now = Date.now(),
): Promise<PasswordCheck> {
  const env = c.env;
  const source = from.source;
  const email = normaliseEmail(emailInput) ?? emailInput.trim().toLowerCase().slice(0, 254);
  const who = await countedFor(env, email, from.device);
  const gate = await signInGate(env, who, source, now);
  if (!gate.open) return { ok: false, reason: "wait", retryAfterS: gate.retryAfterS };
  const user = await findUserByEmail(env.DB, email);
  const tooLong = password.length > MAX_INPUT;
  const verified = await verifyPassword(tooLong ? "" : password, user?.password_hash ?? DECOY_HASH, env.KEY_PEPPER);
  if (!user || user.password_hash === null || tooLong || !verified.ok) {
    await recordFailure(env, who, source, now);
    if (user) c.executionCtx.waitUntil(failureRecorded(env, user, source, now));
    return { ok: false, reason: "wrong" };
  }
  // With MFA the sign-in is not over: the failures are forgotten when the second factor passes,
  // else entering the password again would wipe the count of wrong codes.
  if (user.mfa_enabled_at === null) await clearCounted(env, who);
  if (verified.rehash) {
    await rehashPassword(env.DB, user.id, await hashPassword(password, env.KEY_PEPPER));
  }
  return { ok: true, user };
}

/** A failed attempt on a real account is audited in its organisations, after the answer, so the
 * answer's timing does not depend on whether the account exists. */
async function failureRecorded(env: Env, user: User, source: string, now: number, during?: string) {
  const orgs = (await membershipsOf(env, user.id)).map((o) => o.tenantId);
  const actor = { kind: "user", id: user.id } as const;
  const data = during ? { during } : undefined;
  await auditAccount(env, orgs, { type: "auth.sign_in_failed", actor, subject: user.id, source, data }, now);
}

/** Counts a wrong second factor like a wrong password (same throttle). */
export async function secondFactorFailed(c: RequestScope, user: User, from: Origin, now = Date.now()) {
  await recordFailure(c.env, await countedFor(c.env, user.email, from.device), from.source, now);
  c.executionCtx.waitUntil(failureRecorded(c.env, user, from.source, now));
}

export async function secondFactorGate(env: Env, user: User, from: Origin, now = Date.now()) {
  return signInGate(env, await countedFor(env, user.email, from.device), from.source, now);
}

/** The second factor passed: the sign-in is complete, and forgets the failures it was counted with. */
export async function secondFactorPassed(env: Env, user: User, from: Origin) {
  await clearCounted(env, await countedFor(env, user.email, from.device));
}

export type SessionCheck = { ok: true } | { ok: false; retryAfterS: number | null };

/**
 * A password or code asked for inside a signed-in session (`during` names the form). The same
 * per-account and per-address gate as sign-in, asked before anything is checked: someone holding
 * a session (a borrowed laptop, a stolen cookie) gets no faster guessing than at /login, and
 * their failures count toward the same delays. A failure is audited like a failed sign-in.
 */
export async function checkInSession(
  c: RequestScope,
  user: User,
  from: Origin,
  during: string,
  check: () => Promise<boolean>,
  now = Date.now(),
): Promise<SessionCheck> {
  const who = await countedFor(c.env, user.email, from.device);
  const gate = await signInGate(c.env, who, from.source, now);
  if (!gate.open) return { ok: false, retryAfterS: gate.retryAfterS };
  if (await check()) return { ok: true };
  await recordFailure(c.env, who, from.source, now);
  c.executionCtx.waitUntil(failureRecorded(c.env, user, from.source, now, during));
  return { ok: false, retryAfterS: null };
}

/** Longer `next` values fall back to "/" (no page of ours has a path this long). */
const MAX_NEXT = 1024;
const ORIGIN = "https://outlay.invalid";

/**
 * Where to go after signing in: only a path on this site that a browser reads exactly as we do.
 * The value must start with one "/" and come back unchanged from `new URL(next, origin)` as its
 * path, query and fragment: WHATWG URL parsing strips tabs and newlines, turns "\\" into "/",
 * resolves "/../" and percent-encodes the rest, so "/\t/evil", "/\\evil", "/%0d%0a…" with the raw
 * characters, "//evil" and anything else a browser would read as another host (or that cannot go
 * in a Location header) falls back to "/". Never throws.
 */
export function safeNext(next: string | undefined): string {
  if (!next || next.length > MAX_NEXT || !next.startsWith("/") || /^\/[/\\]/.test(next)) return "/";
  let url: URL;
  try {
    url = new URL(next, ORIGIN);
  } catch {
    return "/";
  }
  if (url.origin !== ORIGIN) return "/";
  return `${url.pathname}${url.search}${url.hash}` === next ? next : "/";
}
