// Password hashing: scrypt (RFC 7914) through the platform's node:crypto, with a server-side
// pepper. The parameters travel inside the stored hash, so they can be raised later: a
// password verified against weaker parameters than PASSWORD_PARAMS is flagged for rehash.
//
//   stored = "$scrypt$v=1$N=<N>,r=<r>,p=<p>$<salt, base64url>$<hash, base64url>"
//   hash   = scrypt(HMAC-SHA-256(KEY_PEPPER, "outlay/password/v1" ‖ 0x00 ‖ NFKC(password)), salt)
//
// Why these numbers (docs/security.md): N=2^14, r=8, p=5 is OWASP's scrypt setting for 16 MiB
// of memory per lane, well under the Workers 128 MB limit; about 155 ms of CPU per hash on a
// 2-vCPU test machine. PBKDF2 on Workers is capped at 100,000 iterations, below OWASP's
// 600,000 for PBKDF2-SHA256, so it is not used.
import { createHmac, randomBytes, scrypt, timingSafeEqual } from "node:crypto";

export type ScryptParams = { N: number; r: number; p: number };

export const PASSWORD_PARAMS: ScryptParams = { N: 2 ** 14, r: 8, p: 5 };
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
/** Stored parameters are refused above these: a stored hash must not make a sign-in exhaust the Worker. */
const MAX_N = 2 ** 17;
const MAX_R = 16;
const MAX_P = 16;
/** The Workers memory limit is 128 MB; scrypt needs 128 · N · r bytes per lane. */
const MAX_MEMORY = 96 * 1024 * 1024;
const PEPPER_LABEL = "outlay/password/v1\u0000";

const FORMAT = /^\$scrypt\$v=1\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9_-]{16,64})\$([A-Za-z0-9_-]{32,128})$/;

function peppered(password: string, pepper: string): Buffer {
  return createHmac("sha256", pepper)
    .update(PEPPER_LABEL + password.normalize("NFKC"), "utf8")
    .digest();
}

function derive(secret: Buffer, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const maxmem = 128 * params.N * params.r * 2;
  return new Promise((resolve, reject) => {
    scrypt(secret, salt, KEY_LENGTH, { ...params, maxmem }, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

export async function hashPassword(password: string, pepper: string, params = PASSWORD_PARAMS): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const hash = await derive(peppered(password, pepper), salt, params);
  return `$scrypt$v=1$N=${params.N},r=${params.r},p=${params.p}$${salt.toString("base64url")}$${hash.toString("base64url")}`;
}

/** The parameters of a stored hash, or null when it is not one this module wrote (or is out of bounds). */
export function storedParams(stored: string): ScryptParams | null {
  const match = FORMAT.exec(stored);
  if (!match) return null;
  const [N, r, p] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const powerOfTwo = N >= 2 && (N & (N - 1)) === 0;
  if (!powerOfTwo || N > MAX_N || r < 1 || r > MAX_R || p < 1 || p > MAX_P || 128 * N * r > MAX_MEMORY) return null;
  return { N, r, p };
}

export type Verified = { ok: boolean; rehash: boolean };

/** Verified against when there is no account (or no password), so a sign-in for an unknown email
 * spends the same scrypt time as one for a known email: the answers' timing tells nothing. */
export const DECOY_HASH = `$scrypt$v=1$N=${PASSWORD_PARAMS.N},r=${PASSWORD_PARAMS.r},p=${PASSWORD_PARAMS.p}$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`;

/** Constant-time check of a password against a stored hash; `rehash` when its parameters are below today's. */
export async function verifyPassword(password: string, stored: string, pepper: string): Promise<Verified> {
  const params = storedParams(stored);
  const parts = stored.split("$");
  if (!params) return { ok: false, rehash: false };
  const salt = Buffer.from(parts[4] ?? "", "base64url");
  const expected = Buffer.from(parts[5] ?? "", "base64url");
  const actual = await derive(peppered(password, pepper), salt, params);
  const ok = actual.length === expected.length && timingSafeEqual(actual, expected);
  const weaker = params.N < PASSWORD_PARAMS.N || params.r < PASSWORD_PARAMS.r || params.p < PASSWORD_PARAMS.p;
  return { ok, rehash: ok && weaker };
}
