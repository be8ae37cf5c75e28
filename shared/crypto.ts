// Key hashing (HMAC-SHA-256, RFC 2104) and credential encryption (AES-256-GCM, NIST SP 800-38D)
// on WebCrypto. Imported keys are cached per secret value so the hot path imports once per isolate.
import { fromBase64, toBase64, utf8 } from "./encoding.ts";
import { randomBytes } from "./ids.ts";

const hmacKeys = new Map<string, Promise<CryptoKey>>();

function hmacKey(pepper: string): Promise<CryptoKey> {
  let key = hmacKeys.get(pepper);
  if (!key) {
    key = crypto.subtle.importKey("raw", utf8.encode(pepper), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    hmacKeys.set(pepper, key);
  }
  return key;
}

/** HMAC-SHA-256(pepper, value) as lower-case hex. */
export async function keyHash(pepper: string, value: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(pepper), utf8.encode(value));
  return [...new Uint8Array(mac)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Constant-time comparison of two equal-length hex strings (workerd's timingSafeEqual). */
export function sameHash(a: string, b: string): boolean {
  const left = utf8.encode(a);
  const right = utf8.encode(b);
  if (left.byteLength !== right.byteLength) return false;
  return crypto.subtle.timingSafeEqual(left, right);
}

// ---- AES-256-GCM with versioned data keys --------------------------------------------------

export type DataKeyring = { current: string; keys: Map<string, Promise<CryptoKey>> };

const keyrings = new Map<string, DataKeyring>();

/**
 * Parses `DATA_KEYS` = "v2:<base64 32 bytes>,v1:<base64 32 bytes>". The first key encrypts; every
 * listed key decrypts, so a key is rotated by putting the new one first and keeping the old one
 * until all ciphertexts are re-encrypted.
 */
export function dataKeyring(spec: string): DataKeyring {
  const cached = keyrings.get(spec);
  if (cached) return cached;
  const keys = new Map<string, Promise<CryptoKey>>();
  let current = "";
  for (const part of spec.split(",")) {
    const [version, material] = part.trim().split(":");
    const raw = material ? fromBase64(material) : null;
    if (!version || !/^v\d+$/.test(version) || !raw || raw.byteLength !== 32) {
      throw new Error("DATA_KEYS is malformed: expected v<N>:<base64 of 32 bytes>[,...]");
    }
    keys.set(version, crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]));
    current ||= version;
  }
  const ring = { current, keys };
  keyrings.set(spec, ring);
  return ring;
}

/** Returns "<version>.<base64 iv>.<base64 ciphertext+tag>"; `context` is bound as additional data. */
export async function seal(ring: DataKeyring, plaintext: string, context: string): Promise<string> {
  const key = ring.keys.get(ring.current);
  if (!key) throw new Error("current data key missing");
  const iv = randomBytes(12);
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: utf8.encode(context) },
    await key,
    utf8.encode(plaintext),
  );
  return `${ring.current}.${toBase64(iv)}.${toBase64(new Uint8Array(sealed))}`;
}

export async function open(ring: DataKeyring, envelope: string, context: string): Promise<string> {
  const [version, ivText, bodyText] = envelope.split(".");
  const key = version ? ring.keys.get(version) : undefined;
  const iv = ivText ? fromBase64(ivText) : null;
  const body = bodyText ? fromBase64(bodyText) : null;
  if (!key || !iv || !body) throw new Error("credential envelope unreadable");
  const plain = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv, additionalData: utf8.encode(context) },
    await key,
    body,
  );
  return new TextDecoder().decode(plain);
}
