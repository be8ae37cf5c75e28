// MFA recovery codes: single-use look-up secrets (NIST SP 800-63B section 5.1.2), stored as
// HMAC-SHA-256 (RFC 2104) under the server pepper, never in clear.
//
//   code   = 10 symbols of Crockford's base32, lower case: 50 random bits, shown "xxxxx-xxxxx"
//   stored = HMAC-SHA-256(KEY_PEPPER, "outlay/recovery/v1" ‖ 0x00 ‖ normalised code)
//
// Crockford's alphabet leaves out i, l, o and u; when read back, i and l count as 1 and o as 0,
// so a code copied by hand still matches. 50 bits is far below the 112 bits that SP 800-63B asks
// of a plain hash: the pepper, kept outside the database, is what stands against offline guessing.
import { keyHash } from "../../shared/crypto.ts";

export const RECOVERY_CODE_COUNT = 10;
const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";
const SYMBOLS = 10;
const GROUP = 5;
const NORMALISED = /^[0-9a-hjkmnp-tv-z]{10}$/;
const HASH_LABEL = "outlay/recovery/v1\u0000";

/** RECOVERY_CODE_COUNT distinct codes, formatted for display ("xxxxx-xxxxx"). */
export function newRecoveryCodes(): string[] {
  const codes = new Set<string>();
  while (codes.size < RECOVERY_CODE_COUNT) codes.add(newRecoveryCode());
  return [...codes];
}

function newRecoveryCode(): string {
  // One byte per symbol, low 5 bits: 256 is a multiple of 32, so every symbol is uniform.
  const bytes = crypto.getRandomValues(new Uint8Array(SYMBOLS));
  let code = "";
  for (const byte of bytes) code += ALPHABET.charAt(byte & 31);
  bytes.fill(0);
  return `${code.slice(0, GROUP)}-${code.slice(GROUP)}`;
}

/** The code as stored for hashing (10 symbols, lower case, no separators), or null if it cannot be one. */
export function normaliseRecoveryCode(input: string): string | null {
  const code = input.toLowerCase().replace(/[\s-]/g, "").replace(/o/g, "0").replace(/[il]/g, "1");
  return NORMALISED.test(code) ? code : null;
}

/** The stored form of a code, displayed or typed. Throws on input that normaliseRecoveryCode refuses. */
export async function recoveryCodeHash(pepper: string, code: string): Promise<string> {
  const normalised = normaliseRecoveryCode(code);
  if (normalised === null) throw new TypeError("recoveryCodeHash: not a recovery code");
  return keyHash(pepper, HASH_LABEL + normalised);
}
