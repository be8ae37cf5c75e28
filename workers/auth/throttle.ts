// Sign-in throttling (OWASP Authentication Cheat Sheet, "Login Throttling"). Failures are counted
// per account — keyed by a hash of the normalised email whether or not such an account exists,
// so the answers cannot tell the two apart — or, for a browser that signed in to the account
// before, per device (device.ts) — and per source address. Past a few free failures
// each further attempt must wait twice as long as the one before, up to 15 minutes; there is no
// hard lockout, so nobody can lock anyone out for longer than the delay their own last guess
// earned (a hard lock let anyone lock any email, a sole owner included, until an operator came).
// The bound on guessing instead: after the ramp, 4 attempts an hour per account, whatever the
// number of addresses (docs/accounts.md has the numbers). Failures are forgotten after a quiet
// window (24 h for an account, 1 h for an address) since the last one, so a steady attacker never
// gets the free attempts back.
import { keyHash } from "../../shared/crypto.ts";
import {
  bumpFailures,
  countSignUp,
  deleteAccountFailures,
  deleteFailures,
  deleteStaleFailures,
  type FailureCount,
  findFailures,
  listAccountFailures,
} from "../store/index.ts";

export const ACCOUNT_FREE_FAILURES = 3;
/** An account's failures are forgotten this long after the last one. */
export const ACCOUNT_WINDOW_MS = 24 * 60 * 60 * 1000;
export const ADDRESS_FREE_FAILURES = 20;
/** An address's failures are forgotten this long after the last one. */
export const ADDRESS_WINDOW_MS = 60 * 60 * 1000;
export const MAX_DELAY_MS = 15 * 60 * 1000;
/** New accounts (sign-up, or an invitation accepted by someone new) per address per hour. */
export const SIGN_UPS_PER_ADDRESS = 10;

export type Gate = { open: true } | { open: false; retryAfterS: number };

/** What an attempt is counted against besides its address: the account, or a known device of it. */
export type Counted = { scope: "account" | "device"; subject: string };

export function accountSubject(env: Env, email: string): Promise<string> {
  return keyHash(env.KEY_PEPPER, `outlay/sign-in/v1\0${email}`);
}

/** 1 s after the first failure past the free ones, then 2 s, 4 s, ... up to 15 minutes. */
export function delayAfter(failures: number, free: number): number {
  if (failures < free) return 0;
  return Math.min(MAX_DELAY_MS, 1000 * 2 ** Math.min(30, failures - free));
}

function live(r: FailureCount | null, windowMs: number, now: number): FailureCount | null {
  return r && now - r.last_at < windowMs ? r : null;
}

/** May this attempt be checked at all? Asked before the password (or code) is looked at. */
export async function signInGate(env: Env, who: Counted, address: string, now = Date.now()): Promise<Gate> {
  const [a, b] = await Promise.all([
    findFailures(env.DB, who.scope, who.subject),
    findFailures(env.DB, "address", address),
  ]);
  const byAccount = live(a, ACCOUNT_WINDOW_MS, now);
  const byAddress = live(b, ADDRESS_WINDOW_MS, now);
  const waitUntil = Math.max(
    byAccount ? byAccount.last_at + delayAfter(byAccount.failures, ACCOUNT_FREE_FAILURES) : 0,
    byAddress ? byAddress.last_at + delayAfter(byAddress.failures, ADDRESS_FREE_FAILURES) : 0,
  );
  if (waitUntil > now) return { open: false, retryAfterS: Math.ceil((waitUntil - now) / 1000) };
  return { open: true };
}

/** Which of these accounts must wait before their next attempt (for the members list). */
export async function waitingAccounts(env: Env, subjects: string[], now = Date.now()): Promise<Set<string>> {
  const waiting = new Set<string>();
  for (const r of await listAccountFailures(env.DB, subjects)) {
    const counted = live(r, ACCOUNT_WINDOW_MS, now);
    if (counted && counted.last_at + delayAfter(counted.failures, ACCOUNT_FREE_FAILURES) > now) waiting.add(r.subject);
  }
  return waiting;
}

/** Counts a failed attempt against the account (or device) and the address; each count starts
 * again after its window without a failure. */
export async function recordFailure(env: Env, who: Counted, address: string, now = Date.now()): Promise<void> {
  await bumpFailures(
    env.DB,
    [
      { scope: who.scope, subject: who.subject, windowMs: ACCOUNT_WINDOW_MS },
      { scope: "address", subject: address, windowMs: ADDRESS_WINDOW_MS },
    ],
    now,
  );
}

/** Counts an account made from this address; false when the address made too many this hour. */
export async function allowSignUp(env: Env, address: string, now = Date.now()): Promise<boolean> {
  return (await countSignUp(env.DB, address, now, ADDRESS_WINDOW_MS)) <= SIGN_UPS_PER_ADDRESS;
}

/** A password reset or an admin's unlock forgets the account's failures. */
export function clearFailures(env: Env, account: string): Promise<void> {
  return deleteAccountFailures(env.DB, account);
}

/** A successful sign-in forgets the failures it was counted with: the account's, or only the
 * device's (a sign-in from a known device does not reset what others' guesses earned). */
export function clearCounted(env: Env, who: Counted): Promise<void> {
  return deleteFailures(env.DB, who.scope, who.subject);
}

/** Forgets what is past its window (the scheduled job). */
export function pruneFailures(env: Env, now = Date.now()): Promise<void> {
  return deleteStaleFailures(env.DB, now - ACCOUNT_WINDOW_MS, now - ADDRESS_WINDOW_MS);
}
