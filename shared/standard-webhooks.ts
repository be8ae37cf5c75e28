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

/** `v1,<base64 signature>` of one message under one secret. */
export async function signWebhook(secret: string, id: string, timestamp: number, body: string): Promise<string> {
  const key = secretKey(secret);
  if (!key) throw new TypeError("signWebhook: not a whsec_ secret");
  const hmac = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", hmac, new TextEncoder().encode(`${id}.${timestamp}.${body}`));
  return `v1,${toBase64(new Uint8Array(mac))}`;
}

/** The three headers of one attempt, signed by every secret given (current first). */
export async function webhookHeaders(
  secrets: readonly string[],
  id: string,
  timestamp: number,
  body: string,
): Promise<Record<string, string>> {
  const signatures = await Promise.all(secrets.map((s) => signWebhook(s, id, timestamp, body)));
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
