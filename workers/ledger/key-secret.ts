// Which of a key's secrets a presented key hash is: the current one, or the previous one of a
// rotated key (accepted until its grace period ends). Used by the ledger's admission and by a
// gateway isolate admitting from its lease, so both decide alike. Hashes are compared in
// constant time, both of them every time.
import { sameHash } from "../../shared/crypto.ts";

/** Longest grace period of a rotated key's previous secret: 30 days. */
export const MAX_GRACE_MS = 30 * 24 * 3_600_000;

export type KeySecrets = { hash: string; previousHash: string | null; previousUntil: number | null };

/** "current", "previous" (within its grace), "rotated" (the previous secret after its grace),
 * or "none" (not a secret of this key). */
export type SecretMatch = "current" | "previous" | "rotated" | "none";

export function matchSecret(key: KeySecrets, presented: string, now: number): SecretMatch {
  const current = sameHash(key.hash, presented);
  const previous = key.previousHash !== null && sameHash(key.previousHash, presented);
  if (current) return "current";
  if (!previous) return "none";
  return key.previousUntil !== null && now < key.previousUntil ? "previous" : "rotated";
}
