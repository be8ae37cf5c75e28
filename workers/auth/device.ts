// Device cookies (OWASP, "Slow Down Online Guessing Attacks with Device Cookies"). A browser that
// completed a sign-in to an account — the password and, when on, the second factor — gets a
// long-lived cookie naming that account. Its later attempts for that account are throttled per
// device instead of per account: failures sent by anyone else (someone guessing the password from
// elsewhere) never make the person's own browsers wait, so throttling the account cannot be
// turned into keeping its owner out. Failures a device sends are counted against the device, with
// the same free failures and delays as an account.
//
//   cookie  "<nonce>.<mac>"  nonce: 160 random bits; mac = HMAC-SHA-256(SESSION_SECRET,
//           label ‖ account subject ‖ nonce), so it is good for one account only and cannot be
//           made without the secret. `__Host-outlay_device` (HttpOnly, Secure, SameSite=Lax,
//           Path=/, 180 days); `outlay_device` without Secure on plain-http loopback.
//   counted as ("device", HMAC(KEY_PEPPER, cookie)) in sign_in_failures: the cookie is not stored.
import type { Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { keyHash, sameHash } from "../../shared/crypto.ts";
import { newSecret } from "../../shared/ids.ts";
import { plainLoopback } from "./sessions.ts";
import { accountSubject, type Counted } from "./throttle.ts";
import type { WebEnv } from "./web-account.ts";

export const DEVICE_MAX_AGE_S = 180 * 24 * 60 * 60;
const COOKIE = "outlay_device";
const FORMAT = /^([a-z2-7]{32})\.([0-9a-f]{64})$/;

function mac(env: Env, subject: string, nonce: string): Promise<string> {
  return keyHash(env.SESSION_SECRET, `outlay/device/v1\0${subject}\0${nonce}`);
}

export function readDeviceCookie(c: Context): string | undefined {
  return plainLoopback(c) ? getCookie(c, COOKIE) : getCookie(c, COOKIE, "host");
}

/** After a completed sign-in: this browser is one of the account's devices from now on. */
export async function writeDeviceCookie(c: Context<WebEnv>, email: string): Promise<void> {
  const nonce = newSecret();
  const value = `${nonce}.${await mac(c.env, await accountSubject(c.env, email), nonce)}`;
  const options = { httpOnly: true, sameSite: "Lax", path: "/", maxAge: DEVICE_MAX_AGE_S } as const;
  if (plainLoopback(c)) setCookie(c, COOKIE, value, options);
  else setCookie(c, COOKIE, value, { ...options, secure: true, prefix: "host" });
}

/** Whom an attempt for `email` is counted against: this device when its cookie was made for this
 * account, else the account. */
export async function countedFor(env: Env, email: string, cookie: string | undefined): Promise<Counted> {
  const subject = await accountSubject(env, email);
  const parts = FORMAT.exec(cookie ?? "");
  if (parts?.[1] && parts[2] && sameHash(parts[2], await mac(env, subject, parts[1]))) {
    return { scope: "device", subject: await keyHash(env.KEY_PEPPER, `outlay/device-throttle/v1\0${cookie}`) };
  }
  return { scope: "account", subject };
}
