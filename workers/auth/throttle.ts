// Sign-in throttling (OWASP Authentication Cheat Sheet, "Login Throttling"). Failures are counted
// per account — keyed by a hash of the normalised email whether or not such an account exists,
// so the answers cannot tell the two apart — and per source address. Past a few free failures
// each further attempt must wait twice as long as the one before; ten failures lock the account
// until a password reset or an admin lifts it. Addresses are shared (offices, NAT), so they get
// delays only, never a lockout.
import { keyHash } from "../../shared/crypto.ts";

export const ACCOUNT_FREE_FAILURES = 3;
export const ACCOUNT_LOCKOUT_FAILURES = 10;
/** Account failures older than this are forgotten (a locked account stays locked). */
export const ACCOUNT_WINDOW_MS = 24 * 60 * 60 * 1000;
export const ADDRESS_FREE_FAILURES = 20;
export const ADDRESS_WINDOW_MS = 60 * 60 * 1000;
export const MAX_DELAY_MS = 15 * 60 * 1000;
/** New accounts (sign-up, or an invitation accepted by someone new) per address per hour. */
export const SIGN_UPS_PER_ADDRESS = 10;

export type Gate = { open: true } | { open: false; locked: true } | { open: false; locked: false; retryAfterS: number };

type FailureRow = { failures: number; first_at: number; last_at: number };

export function accountSubject(env: Env, email: string): Promise<string> {
  return keyHash(env.KEY_PEPPER, `outlay/sign-in/v1\0${email}`);
}

/** 1 s after the first failure past the free ones, then 2 s, 4 s, ... up to 15 minutes. */
export function delayAfter(failures: number, free: number): number {
  if (failures < free) return 0;
  return Math.min(MAX_DELAY_MS, 1000 * 2 ** Math.min(30, failures - free));
}

async function row(env: Env, scope: "account" | "address", subject: string): Promise<FailureRow | null> {
  return env.DB.prepare("SELECT failures, first_at, last_at FROM sign_in_failures WHERE scope = ? AND subject = ?")
    .bind(scope, subject)
    .first<FailureRow>();
}

function live(r: FailureRow | null, windowMs: number, now: number, lockout: number): FailureRow | null {
  if (!r) return null;
  if (r.failures >= lockout) return r;
  return now - r.first_at < windowMs ? r : null;
}

/** May this attempt be checked at all? Asked before the password is looked at. */
export async function signInGate(env: Env, account: string, address: string, now = Date.now()): Promise<Gate> {
  const [a, b] = await Promise.all([row(env, "account", account), row(env, "address", address)]);
  const byAccount = live(a, ACCOUNT_WINDOW_MS, now, ACCOUNT_LOCKOUT_FAILURES);
  const byAddress = live(b, ADDRESS_WINDOW_MS, now, Number.POSITIVE_INFINITY);
  if (byAccount && byAccount.failures >= ACCOUNT_LOCKOUT_FAILURES) return { open: false, locked: true };
  const waitUntil = Math.max(
    byAccount ? byAccount.last_at + delayAfter(byAccount.failures, ACCOUNT_FREE_FAILURES) : 0,
    byAddress ? byAddress.last_at + delayAfter(byAddress.failures, ADDRESS_FREE_FAILURES) : 0,
  );
  if (waitUntil > now) return { open: false, locked: false, retryAfterS: Math.ceil((waitUntil - now) / 1000) };
  return { open: true };
}

const BUMP = `INSERT INTO sign_in_failures (scope, subject, failures, first_at, last_at) VALUES (?1, ?2, 1, ?3, ?3)
  ON CONFLICT (scope, subject) DO UPDATE SET
    failures = CASE WHEN ?3 - first_at >= ?4 AND failures < ?5 THEN 1 ELSE failures + 1 END,
    first_at = CASE WHEN ?3 - first_at >= ?4 AND failures < ?5 THEN ?3 ELSE first_at END,
    last_at = ?3
  RETURNING failures`;

/** Counts a failed attempt; true when it is the one that locks the account. */
export async function recordFailure(env: Env, account: string, address: string, now = Date.now()): Promise<boolean> {
  const [a] = await env.DB.batch<{ failures: number }>([
    env.DB.prepare(BUMP).bind("account", account, now, ACCOUNT_WINDOW_MS, ACCOUNT_LOCKOUT_FAILURES),
    env.DB.prepare(BUMP).bind("address", address, now, ADDRESS_WINDOW_MS, Number.MAX_SAFE_INTEGER),
  ]);
  return a?.results[0]?.failures === ACCOUNT_LOCKOUT_FAILURES;
}

/** Counts an account made from this address; false when the address made too many this hour. */
export async function allowSignUp(env: Env, address: string, now = Date.now()): Promise<boolean> {
  const counted = await env.DB.prepare(BUMP)
    .bind("signup", address, now, ADDRESS_WINDOW_MS, Number.MAX_SAFE_INTEGER)
    .first<{ failures: number }>();
  return (counted?.failures ?? 0) <= SIGN_UPS_PER_ADDRESS;
}

/** A successful sign-in, a password reset or an admin's unlock forgets the account's failures. */
export async function clearFailures(env: Env, account: string): Promise<void> {
  await env.DB.prepare("DELETE FROM sign_in_failures WHERE scope = 'account' AND subject = ?").bind(account).run();
}

/** Forgets what is past its window (the scheduled job); lockouts stay. */
export async function pruneFailures(env: Env, now = Date.now()): Promise<void> {
  await env.DB.batch([
    env.DB.prepare("DELETE FROM sign_in_failures WHERE scope = 'account' AND failures < ? AND first_at < ?").bind(
      ACCOUNT_LOCKOUT_FAILURES,
      now - ACCOUNT_WINDOW_MS,
    ),
    env.DB.prepare("DELETE FROM sign_in_failures WHERE scope = 'address' AND first_at < ?").bind(
      now - ADDRESS_WINDOW_MS,
    ),
  ]);
}
