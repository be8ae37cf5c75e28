// Proxy keys as the ledger changes them: created (with the rules made for it), rotated, revoked.
// Each change is the storage change, its D1 mirror row and its audit event in one transaction;
// the outbox is sent after. Audit data carries names, prefixes and hints, never a secret or a hash.
import { actorRef, SYSTEM, type AuditActor } from "../../shared/audit.ts";
import { MAX_GRACE_MS } from "./key-secret.ts";
import type { LedgerParts } from "./parts.ts";
import type { CreateKeyRequest, RevokeKeyRequest, RotateKeyRequest } from "./requests.ts";
import { writeRule } from "./rule-changes.ts";
import { bindTenant } from "./schema.ts";
import type { KeyRecord, KeyRotation, NewKey, RotateResult, RuleDraft } from "./types.ts";

/**
 * A new key and the rules made with it (a policy or rate limit naming the key), in one
 * transaction: the key is never usable without them.
 */
export async function createKey(
  parts: LedgerParts,
  { tenantId, key, rules = [], actor = SYSTEM, now = Date.now() }: CreateKeyRequest,
): Promise<KeyRecord> {
  bindTenant(parts.sql, tenantId);
  parts.storage.transactionSync(() => addKey(parts, key, rules, actor, now));
  for (const rule of rules) if (rule.draft.kind === "rate_limit") parts.limiter.forget(rule.id);
  await parts.send();
  const record = parts.catalog.keyRecord(key.id);
  // An invariant: the key was inserted in the transaction above and only this ledger writes it.
  if (!record) throw new Error("key vanished after insert");
  return record;
}

/**
 * A new secret for the key: the current one stays valid for `graceMs` more (0: it ends now);
 * an older previous secret still in its grace ends at once. A retry with the key's last
 * rotation id changes nothing ("replayed"). Revoked and expired keys are not rotated.
 */
export async function rotateKey(
  parts: LedgerParts,
  { tenantId, id, rotation, actor = SYSTEM, now = Date.now() }: RotateKeyRequest,
): Promise<RotateResult> {
  bindTenant(parts.sql, tenantId);
  // An invariant: the API and the dashboard offer only grace periods in range (services/keys.ts).
  if (!Number.isInteger(rotation.graceMs) || rotation.graceMs < 0 || rotation.graceMs > MAX_GRACE_MS) {
    throw new Error("grace period out of range");
  }
  const before = parts.catalog.keyRecord(id);
  if (!before) return { outcome: "not_found" };
  if (parts.catalog.rotationId(id) === rotation.rotationId) return { outcome: "replayed", key: before };
  if (before.revokedAt !== null) return { outcome: "revoked", key: before };
  if (before.expiresAt !== null && before.expiresAt <= now) return { outcome: "expired", key: before };
  parts.storage.transactionSync(() => rotateSecret(parts, before, rotation, actor, now));
  await parts.send();
  const key = parts.catalog.keyRecord(id);
  // An invariant: the key existed before the rotation and keys are never deleted.
  if (!key) throw new Error("key vanished after rotation");
  return { outcome: "rotated", key };
}

/** Revokes the key (a revoked key is refused from the next call on); null when there is none. */
export async function revokeKey(
  parts: LedgerParts,
  { tenantId, id, actor = SYSTEM, now = Date.now() }: RevokeKeyRequest,
): Promise<KeyRecord | null> {
  bindTenant(parts.sql, tenantId);
  const before = parts.catalog.keyRecord(id);
  if (!before || before.revokedAt !== null) return before;
  parts.storage.transactionSync(() => {
    parts.catalog.revokeKey(id, now);
    parts.outbox.mirror("UPDATE api_keys SET revoked_at = ?2 WHERE tenant_id = ?1 AND id = ?3", [now, id]);
    parts.outbox.audit({ at: now, type: "key.revoked", actor, requestId: null, subject: id, data: {} });
  });
  await parts.send();
  return parts.catalog.keyRecord(id);
}

/** A new key with the rules made for it (a policy or rate limit naming it). */
function addKey(
  parts: LedgerParts,
  key: NewKey,
  rules: readonly { id: string; draft: RuleDraft }[],
  actor: AuditActor,
  now: number,
): void {
  parts.catalog.insertKey(key, now);
  parts.outbox.mirror(
    `INSERT INTO api_keys (tenant_id, id, name, prefix, dimensions, created_at, expires_at, created_by, secret_hint)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (tenant_id, id) DO NOTHING`,
    [key.id, key.name, key.prefix, JSON.stringify(key.dimensions), now, key.expiresAt, actorRef(actor), key.hint],
  );
  parts.outbox.audit({
    at: now,
    type: "key.created",
    actor,
    requestId: null,
    subject: key.id,
    data: { name: key.name, prefix: key.prefix, expiresAt: key.expiresAt, rules: rules.map((r) => r.id) },
  });
  for (const rule of rules) writeRule(parts, rule.id, rule.draft, actor, now);
}

/** The new secret becomes current, the current one is accepted until `now + graceMs`. */
function rotateSecret(
  parts: LedgerParts,
  before: KeyRecord,
  rotation: KeyRotation,
  actor: AuditActor,
  now: number,
): void {
  const previousUntil = now + rotation.graceMs;
  // A previous secret still in its grace period ends now: a key has one previous secret.
  const superseded = before.previousUntil !== null && before.previousUntil > now ? before.previousHint : null;
  parts.catalog.rotateKey(before.id, rotation, previousUntil, now);
  parts.outbox.mirror(
    "UPDATE api_keys SET secret_hint = ?2, rotated_at = ?3, previous_hint = ?4, previous_until = ?5 WHERE tenant_id = ?1 AND id = ?6",
    [rotation.hint, now, before.hint, previousUntil, before.id],
  );
  parts.outbox.audit({
    at: now,
    type: "key.rotated",
    actor,
    requestId: null,
    subject: before.id,
    data: {
      prefix: before.prefix,
      hint: rotation.hint,
      previousHint: before.hint,
      graceUntil: previousUntil,
      supersededHint: superseded,
    },
  });
}
