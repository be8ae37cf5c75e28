// Sealed data (shared/crypto.ts: AES-256-GCM, the context bound as additional data) opens only
// with the context it was sealed for and only as it was written: another tenant's or provider's
// context, a changed ciphertext, tag or nonce, or an unknown key version is refused.
import { describe, expect, it } from "vitest";
import { dataKeyring, open, seal } from "../../shared/crypto.ts";

const V2 = "v2:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const V1 = "v1:HxweHRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE=";
const ring = dataKeyring(`${V2},${V1}`);
const SECRET = "sk-live-credential-0123456789";
const CONTEXT = "tenant-a/openai";
/** WebCrypto's AES-GCM answer to a tag that does not verify. */
const REFUSED = "Decryption failed";

/** The envelope with one bit of its `part` (1: nonce, 2: ciphertext and tag) flipped at `byte`. */
function flipped(envelope: string, part: 1 | 2, byte: number): string {
  const parts = envelope.split(".");
  const bytes = Uint8Array.from(atob(parts[part] ?? ""), (c) => c.charCodeAt(0));
  const at = byte < 0 ? bytes.length + byte : byte;
  bytes[at] = (bytes[at] ?? 0) ^ 0x01;
  parts[part] = btoa(String.fromCharCode(...bytes));
  return parts.join(".");
}

describe("sealed data", () => {
  it("opens with the context it was sealed for", async () => {
    const sealed = await seal(ring, SECRET, CONTEXT);
    expect(sealed.startsWith("v2.")).toBe(true);
    expect(sealed).not.toContain(SECRET);
    expect(await open(ring, sealed, CONTEXT)).toBe(SECRET);
  });

  it("refuses to open with other additional data (another tenant's or provider's context)", async () => {
    const sealed = await seal(ring, SECRET, CONTEXT);
    for (const other of ["tenant-b/openai", "tenant-a/anthropic", "tenant-a/openai ", "", "totp:tenant-a"]) {
      await expect(open(ring, sealed, other)).rejects.toThrow(REFUSED);
    }
  });

  it("refuses a tampered ciphertext, tag or nonce", async () => {
    const sealed = await seal(ring, SECRET, CONTEXT);
    await expect(open(ring, flipped(sealed, 2, 0), CONTEXT)).rejects.toThrow(REFUSED);
    await expect(open(ring, flipped(sealed, 2, -1), CONTEXT)).rejects.toThrow(REFUSED);
    await expect(open(ring, flipped(sealed, 1, 0), CONTEXT)).rejects.toThrow(REFUSED);
    // A truncated envelope (the tag cut off) is refused too.
    const [version, iv, body] = sealed.split(".");
    await expect(open(ring, `${version}.${iv}.${(body ?? "").slice(0, 8)}`, CONTEXT)).rejects.toThrow(
      "Ciphertext length",
    );
  });

  it("opens data sealed under an older key version, and refuses a version the ring does not hold", async () => {
    const old = await seal(dataKeyring(V1), SECRET, CONTEXT);
    expect(old.startsWith("v1.")).toBe(true);
    expect(await open(ring, old, CONTEXT)).toBe(SECRET);
    await expect(open(dataKeyring(V2), old, CONTEXT)).rejects.toThrow("credential envelope unreadable");
    // The same bytes under another version's label are another key's: refused.
    await expect(open(ring, `v2.${old.slice(3)}`, CONTEXT)).rejects.toThrow(REFUSED);
  });
});
