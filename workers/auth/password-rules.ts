// What a new password must be, after NIST SP 800-63B and OWASP: long rather than composed (no
// required character classes), any Unicode characters, and not one of the commonly used or
// context-specific passwords an attacker tries first.
import { AppError } from "../../shared/errors.ts";

export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 256;

/** Commonly used passwords long enough to pass the length rule (from public breach corpora). */
const COMMON = new Set([
  "123456789012",
  "1234567890123",
  "12345678901234",
  "123456789abc",
  "1q2w3e4r5t6y",
  "1qaz2wsx3edc",
  "aaaaaaaaaaaa",
  "abc123abc123",
  "abcdefghijkl",
  "administrator",
  "changeme1234",
  "iloveyou1234",
  "letmein12345",
  "password1234",
  "password12345",
  "password123!",
  "passwordpassword",
  "p@ssw0rd1234",
  "q1w2e3r4t5y6",
  "qwerty123456",
  "qwertyuiop12",
  "qwertyuiopas",
  "qwertyuiopasdf",
  "welcome12345",
  "welcome123456",
  "zaq12wsxcde3",
  "trustno1trustno1",
  "monkeymonkey",
  "football1234",
  "baseball1234",
  "superman1234",
  "sunshine1234",
  "princess1234",
  "dragondragon",
  "masterkey123",
  "correcthorsebatterystaple",
]);

/** NIST SP 800-63B 3.1.1.2: each Unicode code point counts as one character. */
function codePoints(text: string): number {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}

function normalise(text: string): string {
  return text.normalize("NFKC").toLowerCase();
}

/** Why `password` may not be used (naming the rule), or null. `context`: the email, the org name. */
export function passwordProblem(password: string, context: readonly string[] = []): AppError | null {
  const length = codePoints(password.normalize("NFKC"));
  if (length < MIN_PASSWORD_LENGTH) {
    return new AppError("bad_request", `Use at least ${MIN_PASSWORD_LENGTH} characters.`, "password");
  }
  if (length > MAX_PASSWORD_LENGTH) {
    return new AppError("bad_request", `Use at most ${MAX_PASSWORD_LENGTH} characters.`, "password");
  }
  const plain = normalise(password);
  if (COMMON.has(plain) || /^(.)\1+$/u.test(plain)) {
    return new AppError("bad_request", "This password is too common; choose another.", "password");
  }
  for (const word of context) {
    const part = normalise(word.split("@")[0] ?? "");
    if (part.length >= 4 && plain.includes(part)) {
      return new AppError("bad_request", "The password must not contain your email or organisation name.", "password");
    }
  }
  return null;
}
