// Changes to keys and rules as the ledger makes them: the storage change, its D1 mirror row and
// its audit event, all inside the caller's transaction (TenantLedger opens it and sends the
// outbox after). Audit data carries names, prefixes and hints, never a secret or a hash.
import { actorRef, type AuditActor } from "../../shared/audit.ts";
import type { BudgetBook } from "./budgets.ts";
import type { Catalog } from "./catalog.ts";
import type { Outbox } from "./outbox.ts";
import type { RuleStore } from "./rules.ts";
import type { AnyRule, KeyRecord, KeyRotation, NewKey, RuleDraft } from "./types.ts";

export type ChangeParts = { catalog: Catalog; rules: RuleStore; book: BudgetBook; outbox: Outbox };

/** Inserts or replaces a budget, policy or rate limit. */
export function writeRule(parts: ChangeParts, id: string, draft: RuleDraft, actor: AuditActor, now: number): AnyRule {
  const { rules, book, outbox } = parts;
  const before = rules.get(draft.kind, id);
  const window = draft.kind === "budget" ? rules.get("budget", id)?.spec.window : undefined;
  const record = rules.put(draft, id, now);
  // A budget whose window changed counts afresh: old window keys mean something else now.
  if (record.kind === "budget" && window && JSON.stringify(window) !== JSON.stringify(record.spec.window)) {
    book.reset(id);
  }
  outbox.mirror(
    `INSERT INTO ledger_rules (tenant_id, kind, id, name, spec, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
     ON CONFLICT (tenant_id, id) DO UPDATE SET name = excluded.name, spec = excluded.spec, updated_at = excluded.updated_at`,
    [record.kind, id, record.spec.name, JSON.stringify(record.spec), record.createdAt, now],
  );
  outbox.audit({
    at: now,
    type: before ? "rule.updated" : "rule.created",
    actor,
    requestId: null,
    subject: id,
    data: { kind: record.kind, name: record.spec.name },
  });
  return record;
}

/** A new key with the rules made for it (a policy or rate limit naming it). */
export function addKey(
  parts: ChangeParts,
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
export function rotateSecret(
  parts: ChangeParts,
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
