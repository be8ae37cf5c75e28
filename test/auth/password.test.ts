// Password hashing (workers/auth/password.ts) and the rules for new passwords. The scrypt
// primitive is checked against RFC 7914's own vectors, as data in test/vectors/.
import { scryptSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { passwordProblem } from "../../workers/auth/password-rules.ts";
import { hashPassword, PASSWORD_PARAMS, storedParams, verifyPassword } from "../../workers/auth/password.ts";
import vectors from "../vectors/rfc7914-scrypt.json";

const PEPPER = "test-pepper-0123456789abcdef0123456789";
/** The Workers memory limit (128 MB) and what one scrypt lane needs: 128 · N · r bytes. */
const WORKERS_MEMORY = 128 * 1024 * 1024;

describe("scrypt primitive (RFC 7914 section 12)", () => {
  for (const v of vectors.vectors) {
    it(`N=${v.N} r=${v.r} p=${v.p} "${v.password}"`, () => {
      const dk = scryptSync(v.password, v.salt, v.dkLen, { N: v.N, r: v.r, p: v.p, maxmem: 256 * 1024 * 1024 });
      expect(dk.toString("hex")).toBe(v.dk);
    });
  }
});

describe("password hashes", () => {
  it("pins today's parameters under the platform's caps (OWASP's scrypt N=2^14, r=8, p=5)", async () => {
    expect(PASSWORD_PARAMS).toEqual({ N: 16384, r: 8, p: 5 });
    expect(128 * PASSWORD_PARAMS.N * PASSWORD_PARAMS.r).toBeLessThanOrEqual(WORKERS_MEMORY / 4);
    const stored = await hashPassword("a long pass phrase", PEPPER);
    expect(stored).toMatch(/^\$scrypt\$v=1\$N=16384,r=8,p=5\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(storedParams(stored)).toEqual(PASSWORD_PARAMS);
  });

  it("verifies the right password only, with the right pepper only", async () => {
    const stored = await hashPassword("correct horse battery", PEPPER);
    expect(await verifyPassword("correct horse battery", stored, PEPPER)).toEqual({ ok: true, rehash: false });
    expect(await verifyPassword("correct horse batterY", stored, PEPPER)).toEqual({ ok: false, rehash: false });
    expect(await verifyPassword("correct horse battery", stored, `${PEPPER}x`)).toEqual({ ok: false, rehash: false });
  });

  it("salts every hash, and never contains the password", async () => {
    const a = await hashPassword("same password here", PEPPER);
    const b = await hashPassword("same password here", PEPPER);
    expect(a).not.toBe(b);
    expect(a).not.toContain("same password");
  });

  it("treats canonically equal Unicode as the same password (NFKC)", async () => {
    const stored = await hashPassword("caf\u00e9 au lait s'il vous pla\u00eet", PEPPER);
    const decomposed = "cafe\u0301 au lait s'il vous plai\u0302t";
    expect((await verifyPassword(decomposed, stored, PEPPER)).ok).toBe(true);
  });

  it("flags a hash made with weaker parameters for rehash on sign-in", async () => {
    const old = await hashPassword("an older pass phrase", PEPPER, { N: 2 ** 12, r: 8, p: 1 });
    expect(await verifyPassword("an older pass phrase", old, PEPPER)).toEqual({ ok: true, rehash: true });
    expect(await verifyPassword("not the pass phrase", old, PEPPER)).toEqual({ ok: false, rehash: false });
  });

  it("refuses stored hashes it did not write or whose parameters would exhaust the Worker", async () => {
    const good = await hashPassword("a long pass phrase", PEPPER);
    const tampered = [
      "",
      "plain text password",
      good.replace("$scrypt$", "$bcrypt$"),
      good.replace("N=16384", "N=1048576"),
      good.replace("N=16384", "N=16385"),
      good.replace("r=8", "r=64"),
      good.replace("p=5", "p=0"),
      good.slice(0, -10),
    ];
    for (const stored of tampered) {
      expect(await verifyPassword("a long pass phrase", stored, PEPPER)).toEqual({ ok: false, rehash: false });
    }
  });
});

describe("rules for new passwords (NIST SP 800-63B: length, not composition)", () => {
  it("accepts long passwords of any characters, without class rules", () => {
    for (const ok of ["all lowercase words here", "ÄÖÜ ß 日本語のパスワード", "1234 5678 abcd efgh"]) {
      expect(passwordProblem(ok)).toBeNull();
    }
  });

  it("refuses short, overlong, common and repeated passwords, naming the field", () => {
    for (const bad of [
      "short",
      "elevenchars",
      "x".repeat(257),
      "password1234",
      "Password1234",
      "aaaaaaaaaaaaaa",
      "qwerty123456",
    ]) {
      expect(passwordProblem(bad)?.param).toBe("password");
    }
    expect(passwordProblem("short")?.message).toContain("at least 12");
  });

  it("refuses a password that contains the email's local part or the organisation's name", () => {
    expect(passwordProblem("jane.doe-2026-spring", ["jane.doe@example.com"])?.message).toContain("email");
    expect(passwordProblem("acmecorp forever and ever", ["x@y.z", "AcmeCorp"])).not.toBeNull();
    expect(passwordProblem("something else entirely", ["jane.doe@example.com", "AcmeCorp"])).toBeNull();
  });
});
