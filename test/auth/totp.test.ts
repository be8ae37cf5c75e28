// TOTP MFA building blocks (workers/auth/totp.ts, recovery-codes.ts, qr.ts). The one-time password
// primitive is checked against RFC 4226 and RFC 6238's own vectors, as data in test/vectors/.
import { HOTP, Secret, TOTP, URI } from "otpauth";
import { describe, expect, it } from "vitest";
import { qrSvgDataUri } from "../../workers/auth/qr.ts";
import {
  newRecoveryCodes,
  normaliseRecoveryCode,
  RECOVERY_CODE_COUNT,
  recoveryCodeHash,
} from "../../workers/auth/recovery-codes.ts";
import {
  checkTotp,
  newTotpSecret,
  TOTP_DIGITS,
  TOTP_PERIOD_S,
  totpAt,
  type TotpAlgorithm,
  totpUri,
} from "../../workers/auth/totp.ts";
import hotpVectors from "../vectors/rfc4226-hotp.json";
import totpVectors from "../vectors/rfc6238-totp.json";

const PEPPER = "test-pepper-0123456789abcdef0123456789";
const ascii = (text: string) => new TextEncoder().encode(text);
const SHA1_6 = { algorithm: "SHA1", digits: TOTP_DIGITS } as const;

describe("HOTP (RFC 4226 Appendix D)", () => {
  const secret = ascii(hotpVectors.secret);

  for (const v of hotpVectors.vectors) {
    it(`counter ${v.counter} → ${v.hotp}`, () => {
      // The table is self-consistent: HOTP is the truncated value mod 10^6.
      expect(parseInt(v.truncatedHex, 16)).toBe(v.truncated);
      expect(String(v.truncated % 10 ** hotpVectors.digits).padStart(hotpVectors.digits, "0")).toBe(v.hotp);

      const key = new Secret({ buffer: secret.slice().buffer });
      expect(HOTP.generate({ secret: key, counter: v.counter, algorithm: "SHA1", digits: 6 })).toBe(v.hotp);
      // With 10 digits nothing is cut off: the code is the truncated value itself.
      expect(Number(HOTP.generate({ secret: key, counter: v.counter, algorithm: "SHA1", digits: 10 }))).toBe(
        v.truncated,
      );

      // HOTP at counter c is TOTP at c · 30 s (RFC 6238 section 4.2, T0 = 0).
      expect(totpAt(secret, v.counter * TOTP_PERIOD_S * 1000, SHA1_6)).toBe(v.hotp);
      expect(totpAt(secret, (v.counter * TOTP_PERIOD_S + 29) * 1000 + 999, SHA1_6)).toBe(v.hotp);
    });
  }
});

describe("TOTP (RFC 6238 Appendix B)", () => {
  for (const v of totpVectors.vectors) {
    it(`${v.algorithm} at ${v.time} s (${v.utc}) → ${v.totp}`, () => {
      expect(Math.floor(v.time / totpVectors.period)).toBe(parseInt(v.stepHex, 16));
      const seed = ascii(totpVectors.seeds[v.algorithm as TotpAlgorithm]);
      const options = { algorithm: v.algorithm as TotpAlgorithm, digits: totpVectors.digits };
      expect(totpAt(seed, v.time * 1000, options)).toBe(v.totp);
      expect(totpAt(seed, v.time * 1000, { ...options, period: totpVectors.period })).toBe(v.totp);
    });
  }

  it("has the seed lengths of the RFC (20, 32 and 64 bytes)", () => {
    expect(ascii(totpVectors.seeds.SHA1).byteLength).toBe(20);
    expect(ascii(totpVectors.seeds.SHA256).byteLength).toBe(32);
    expect(ascii(totpVectors.seeds.SHA512).byteLength).toBe(64);
    expect(totpVectors.vectors).toHaveLength(18);
  });

  it("does not change the caller's secret", () => {
    const seed = ascii(totpVectors.seeds.SHA1);
    totpAt(seed, 59_000, { algorithm: "SHA1", digits: 8 });
    expect(new TextDecoder().decode(seed)).toBe(totpVectors.seeds.SHA1);
  });
});

describe("checkTotp", () => {
  // The RFC 6238 SHA-1 seed, so every code below is fixed.
  const secretBase32 = new Secret({ buffer: ascii(totpVectors.seeds.SHA1).buffer }).base32;
  const secret = Secret.fromBase32(secretBase32).bytes;
  const now = 1_700_000_012_345;
  const step = Math.floor(now / 1000 / 30);
  const codeAt = (drift: number) => totpAt(secret, now + drift * 30_000, SHA1_6);

  it("accepts the current code and those of the previous and next step, returning their step", () => {
    for (const drift of [-1, 0, 1]) {
      expect(checkTotp(secretBase32, codeAt(drift), now, null)).toEqual({ ok: true, step: step + drift });
    }
    expect(step).toBe(56_666_667);
  });

  it("refuses codes two steps away, and wrong codes", () => {
    const window = new Set([codeAt(-1), codeAt(0), codeAt(1)]);
    for (const drift of [-2, 2, -10]) {
      expect(window.has(codeAt(drift))).toBe(false);
      expect(checkTotp(secretBase32, codeAt(drift), now, null)).toEqual({ ok: false, code: "invalid_code" });
    }
    const wrong = String((Number(codeAt(0)) + 1) % 1_000_000).padStart(6, "0");
    expect(window.has(wrong)).toBe(false);
    expect(checkTotp(secretBase32, wrong, now, null)).toEqual({ ok: false, code: "invalid_code" });
    expect(checkTotp(secretBase32, wrong, now, step - 5)).toEqual({ ok: false, code: "invalid_code" });
  });

  it("strips spaces, and calls anything but six digits malformed", () => {
    const code = codeAt(0);
    expect(checkTotp(secretBase32, ` ${code.slice(0, 3)} ${code.slice(3)} `, now, null)).toEqual({ ok: true, step });
    for (const input of [
      code.slice(0, 5),
      `${code}0`,
      "",
      "   ",
      "abcdef",
      `${code.slice(0, 5)}a`,
      "12-456",
      "１２３４５６",
    ]) {
      expect(checkTotp(secretBase32, input, now, null)).toEqual({ ok: false, code: "malformed_code" });
    }
  });

  it("accepts a code once: the same code again, or an older one, is a replay", () => {
    const first = checkTotp(secretBase32, codeAt(0), now, null);
    expect(first).toEqual({ ok: true, step });
    if (!first.ok) return;
    expect(checkTotp(secretBase32, codeAt(0), now, first.step)).toEqual({ ok: false, code: "replayed_code" });
    expect(checkTotp(secretBase32, codeAt(0), now + 10_000, first.step)).toEqual({ ok: false, code: "replayed_code" });
    expect(checkTotp(secretBase32, codeAt(-1), now, first.step)).toEqual({ ok: false, code: "replayed_code" });
    // A later step is still a fresh code.
    expect(checkTotp(secretBase32, codeAt(1), now, first.step)).toEqual({ ok: true, step: step + 1 });
    // Once the next step's code is used, the current one is refused too.
    expect(checkTotp(secretBase32, codeAt(0), now, step + 1)).toEqual({ ok: false, code: "replayed_code" });
  });

  it("returns floor(t / 30) + drift at the edges of a step", () => {
    const start = step * 30_000;
    for (const t of [start, start + 29_999]) {
      for (const drift of [-1, 0, 1]) {
        const code = totpAt(secret, t + drift * 30_000, SHA1_6);
        expect(checkTotp(secretBase32, code, t, null)).toEqual({ ok: true, step: Math.floor(t / 1000 / 30) + drift });
      }
    }
  });

  it("works with a new secret: 20 random bytes in base32", () => {
    const fresh = newTotpSecret();
    expect(fresh).toMatch(/^[A-Z2-7]{32}$/);
    expect(Secret.fromBase32(fresh).bytes.byteLength).toBe(20);
    expect(newTotpSecret()).not.toBe(fresh);
    const code = TOTP.generate({ secret: Secret.fromBase32(fresh), algorithm: "SHA1", digits: 6, timestamp: now });
    expect(checkTotp(fresh, code, now, null)).toEqual({ ok: true, step });
  });
});

describe("totpUri", () => {
  it("round-trips through otpauth's URI.parse with issuer, account and secret", () => {
    const secret = newTotpSecret();
    const uri = totpUri({ secret, account: "ana+mfa@example.com", issuer: "Outlay" });
    expect(uri.startsWith("otpauth://totp/")).toBe(true);
    const parsed = URI.parse(uri);
    expect(parsed).toBeInstanceOf(TOTP);
    if (!(parsed instanceof TOTP)) return;
    expect(parsed.issuer).toBe("Outlay");
    expect(parsed.label).toBe("ana+mfa@example.com");
    expect(parsed.secret.base32).toBe(secret);
    expect(parsed.algorithm).toBe("SHA1");
    expect(parsed.digits).toBe(TOTP_DIGITS);
    expect(parsed.period).toBe(TOTP_PERIOD_S);
  });
});

describe("qrSvgDataUri", () => {
  const account = "ana+mfa@example.com";
  const uri = totpUri({ secret: newTotpSecret(), account, issuer: "Outlay" });

  it("is an SVG data URI that draws the code", async () => {
    const dataUri = await qrSvgDataUri(uri);
    const prefix = "data:image/svg+xml;base64,";
    expect(dataUri.startsWith(prefix)).toBe(true);
    const svg = atob(dataUri.slice(prefix.length));
    expect(svg.startsWith("<svg") || svg.startsWith("<?xml")).toBe(true);
    expect(svg.includes("<path") || svg.includes("<rect")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
  });

  it("never carries the text in clear", async () => {
    const svg = atob((await qrSvgDataUri(uri)).slice("data:image/svg+xml;base64,".length));
    for (const part of [account, "example.com", "otpauth", "secret=", new URL(uri).searchParams.get("secret") ?? "?"]) {
      expect(svg.includes(part)).toBe(false);
    }
  });

  it("is deterministic, and differs with the text", async () => {
    expect(await qrSvgDataUri(uri)).toBe(await qrSvgDataUri(uri));
    expect(await qrSvgDataUri(`${uri}x`)).not.toBe(await qrSvgDataUri(uri));
  });
});

describe("recovery codes", () => {
  const FORMAT = /^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$/;

  it(`makes ${RECOVERY_CODE_COUNT} distinct codes, xxxxx-xxxxx`, () => {
    const codes = newRecoveryCodes();
    expect(RECOVERY_CODE_COUNT).toBe(10);
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(FORMAT);
    expect(newRecoveryCodes()).not.toEqual(codes);
  });

  it("draws on all 32 symbols (50 bits a code)", () => {
    const symbols = new Set<string>();
    for (let i = 0; i < 20; i++)
      for (const code of newRecoveryCodes()) for (const c of code.replace("-", "")) symbols.add(c);
    expect(symbols.size).toBe(32);
  });

  it("normalises case, spaces, hyphens and look-alike letters", () => {
    expect(normaliseRecoveryCode("ab3de-fg7jk")).toBe("ab3defg7jk");
    expect(normaliseRecoveryCode("AB3DE-FG7JK")).toBe("ab3defg7jk");
    expect(normaliseRecoveryCode(" ab3de fg7jk ")).toBe("ab3defg7jk");
    expect(normaliseRecoveryCode("ab-3d-ef-g7-jk")).toBe("ab3defg7jk");
    expect(normaliseRecoveryCode("ab3defg7jk")).toBe("ab3defg7jk");
    expect(normaliseRecoveryCode("Oil0I-LoO1l")).toBe("0110110011");
  });

  it("refuses what cannot be a code", () => {
    for (const input of [
      "",
      "-----",
      "ab3de",
      "ab3de-fg7j",
      "ab3de-fg7jkm",
      "ab3de-fg7ju",
      "ab3de_fg7jk",
      "ab3de-fg7j!",
      "äb3de-fg7jk",
    ]) {
      expect(normaliseRecoveryCode(input)).toBeNull();
    }
  });

  it("hashes deterministically, per pepper, the same for any spelling of a code", async () => {
    const [code, other] = newRecoveryCodes();
    if (code === undefined || other === undefined) throw new Error("no codes");
    const hash = await recoveryCodeHash(PEPPER, code);
    expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(await recoveryCodeHash(PEPPER, code)).toBe(hash);
    expect(await recoveryCodeHash(PEPPER, ` ${code.toUpperCase().replace("-", " ")} `)).toBe(hash);
    expect(await recoveryCodeHash(`${PEPPER}x`, code)).not.toBe(hash);
    expect(await recoveryCodeHash(PEPPER, other)).not.toBe(hash);
    expect(hash.includes(code.replace("-", ""))).toBe(false);
    await expect(recoveryCodeHash(PEPPER, "not a code")).rejects.toThrow(TypeError);
  });
});
