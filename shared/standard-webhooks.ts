// Standard Webhooks signing (standardwebhooks.com, spec v1): a secret is `whsec_` + base64 of
// random bytes; each delivery carries `webhook-id`, `webhook-timestamp` (Unix seconds) and
// `webhook-signature`, a space-separated list of `v1,<base64 HMAC-SHA-256 of
// "<id>.<timestamp>.<body>">`, one per secret that signs (two while a rotated secret overlaps).
import { fromBase64, toBase64 } from "./encoding.ts";

export const SECRET_PREFIX = "whsec_";
const SECRET_BYTES = 32;

export function newWebhookSecret(): string {
  return `${SECRET_PREFIX}${toBase64(crypto.getRandomValues(new Uint8Array(SECRET_BYTES)))}`;
}

/** The secret's key bytes, or null when it is not `whsec_<base64>` of 24 to 64 bytes. */
function secretKey(secret: string): Uint8Array | null {
  if (!secret.startsWith(SECRET_PREFIX)) return null;
  const key = fromBase64(secret.slice(SECRET_PREFIX.length));
  return key && key.length >= 24 && key.length <= 64 ? key : null;
}

/** The HMAC key of a secret (non-extractable), for signing many messages with it. */
export function webhookKey(secret: string): Promise<CryptoKey> {
  const key = secretKey(secret);
  if (!key) throw new TypeError("webhookKey: not a whsec_ secret");
  return crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

async function signWith(key: CryptoKey, id: string, timestamp: number, body: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${id}.${timestamp}.${body}`));
  return `v1,${toBase64(new Uint8Array(mac))}`;
}

/** `v1,<base64 signature>` of one message under one secret. */
export async function signWebhook(secret: string, id: string, timestamp: number, body: string): Promise<string> {
  return signWith(await webhookKey(secret), id, timestamp, body);
}

/** The three headers of one attempt, signed by every key given (current first). */
export async function webhookHeaders(
  keys: readonly CryptoKey[],
  id: string,
  timestamp: number,
  body: string,
): Promise<Record<string, string>> {
  const signatures = await Promise.all(keys.map((k) => signWith(k, id, timestamp, body)));
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": signatures.join(" "),
  };
}

/** The last four characters of a secret: enough to tell two apart in a list. */
export function secretHint(secret: string): string {
  return secret.slice(-4);
}
