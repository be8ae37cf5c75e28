// Time-based one-time passwords, RFC 6238 (TOTP) over RFC 4226 (HOTP), through `otpauth`.
// Authenticator apps speak SHA-1, 6 digits, 30-second steps; that is what we issue and check.
//
//   step T = floor(unixSeconds / 30)              (RFC 6238 section 4.2)
//   code   = HOTP(secret, T) = Truncate(HMAC-SHA-1(secret, T)) mod 10^6   (RFC 4226 section 5.3)
//
// checkTotp accepts the code of step T-1, T or T+1 (one step of clock drift either way, RFC 6238
// section 5.2), and only if that step is later than the last one accepted for the account: a code
// is good once (section 5.2: a second attempt with an OTP already accepted MUST NOT be accepted).
import { Secret, TOTP, URI } from "otpauth";
import { utf8 } from "../../shared/encoding.ts";

export const TOTP_PERIOD_S = 30;
export const TOTP_DIGITS = 6;
export const TOTP_ALGORITHM = "SHA1";
/** RFC 4226 section 4 (R6): the shared secret is at least 128 bits; 160 is the recommended length. */
const SECRET_BYTES = 20;
/** Steps either side of now whose code is still accepted (RFC 6238 section 5.2). */
const DRIFT_STEPS = 1;
const CODE_FORMAT = new RegExp(`^[0-9]{${TOTP_DIGITS}}$`);

export type TotpAlgorithm = "SHA1" | "SHA256" | "SHA512";
export type TotpOptions = { algorithm: TotpAlgorithm; digits: number; period?: number };
export type TotpUriOptions = { secret: string; account: string; issuer: string };
export type TotpError = "malformed_code" | "invalid_code" | "replayed_code";
export type TotpCheck = { ok: true; step: number } | { ok: false; code: TotpError };

/** A new shared secret: 160 random bits, base32 (RFC 4648, upper case, unpadded) as apps expect. */
export function newTotpSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(SECRET_BYTES));
  return new Secret({ buffer: bytes.buffer }).base32;
}

/** The `otpauth://totp/Issuer:account?secret=...` URI that an authenticator app enrols from. */
export function totpUri(options: TotpUriOptions): string {
  return URI.stringify(
    new TOTP({
      issuer: options.issuer,
      label: options.account,
      secret: Secret.fromBase32(options.secret),
      algorithm: TOTP_ALGORITHM,
      digits: TOTP_DIGITS,
      period: TOTP_PERIOD_S,
    }),
  );
}

/** The code for `timeMs` (RFC 6238 section 4.2). The caller's bytes are copied, and the copy wiped. */
export function totpAt(secret: Uint8Array, timeMs: number, options: TotpOptions): string {
  if (!Number.isFinite(timeMs) || timeMs < 0) throw new RangeError("totpAt: time must be a non-negative number");
  const key = new Secret({ buffer: secret.slice().buffer });
  try {
    return TOTP.generate({
      secret: key,
      algorithm: options.algorithm,
      digits: options.digits,
      period: options.period ?? TOTP_PERIOD_S,
      timestamp: timeMs,
    });
  } finally {
    key.bytes.fill(0);
  }
}

/**
 * Checks a code typed by the user. `lastUsedStep` is the step of the last code accepted for this
 * secret (null if none); on success the caller stores the returned step in its place.
 */
export function checkTotp(secretBase32: string, input: string, nowMs: number, lastUsedStep: number | null): TotpCheck {
  const code = input.replace(/\s/g, "");
  if (!CODE_FORMAT.test(code)) return { ok: false, code: "malformed_code" };
  if (!Number.isFinite(nowMs) || nowMs < 0) throw new RangeError("checkTotp: time must be a non-negative number");
  const now = TOTP.counter({ period: TOTP_PERIOD_S, timestamp: nowMs });
  const secret = Secret.fromBase32(secretBase32).bytes;
  let matched: number | null = null;
  try {
    // Every step in the window is computed and compared, so timing does not tell which one matched.
    // Ascending order: if two steps share a code, the later one is kept, so that code cannot be
    // accepted a second time.
    for (let step = now - DRIFT_STEPS; step <= now + DRIFT_STEPS; step++) {
      if (step < 0) continue;
      const expected = totpAt(secret, step * TOTP_PERIOD_S * 1000, { algorithm: TOTP_ALGORITHM, digits: TOTP_DIGITS });
      if (sameCode(expected, code)) matched = step;
    }
  } finally {
    secret.fill(0);
  }
  if (matched === null) return { ok: false, code: "invalid_code" };
  if (lastUsedStep !== null && matched <= lastUsedStep) return { ok: false, code: "replayed_code" };
  return { ok: true, step: matched };
}

function sameCode(a: string, b: string): boolean {
  const left = utf8.encode(a);
  const right = utf8.encode(b);
  return left.byteLength === right.byteLength && crypto.subtle.timingSafeEqual(left, right);
}
