// Budgets, policies and rate limits as the ledger changes them: the rule (rules.ts), its D1
// mirror row and its audit event in one transaction, then the outbox is sent. A changed budget
// window starts counting afresh; a changed or deleted rate limit refills its buckets.
import type { AuditActor } from "../../shared/audit.ts";
import type { LedgerParts } from "./parts.ts";
import type { BudgetStatusesRequest, BudgetStatusRequest, DeleteRuleRequest, PutRuleRequest } from "./requests.ts";
import { bindTenant } from "./schema.ts";
import type { AnyRule, BudgetStatus, RuleDraft } from "./types.ts";

/** Inserts or replaces a budget, policy or rate limit (inside the caller's transaction). */
export function writeRule(parts: LedgerParts, id: string, draft: RuleDraft, actor: AuditActor, now: number): AnyRule {
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

export async function putRule(
  parts: LedgerParts,
  { tenantId, id, draft, actor, now = Date.now() }: PutRuleRequest,
): Promise<AnyRule> {
  bindTenant(parts.sql, tenantId);
  const saved = parts.storage.transactionSync(() => writeRule(parts, id, draft, actor, now));
  if (saved.kind === "rate_limit") parts.limiter.forget(id);
  await parts.send();
  return saved;
}

export async function deleteRule(
  parts: LedgerParts,
  { tenantId, kind, id, actor, now = Date.now() }: DeleteRuleRequest,
): Promise<boolean> {
  bindTenant(parts.sql, tenantId);
  const existing = parts.rules.get(kind, id);
  if (!existing) return false;
  parts.storage.transactionSync(() => {
    parts.rules.delete(kind, id);
    if (kind === "budget") parts.book.reset(id);
    parts.outbox.mirror("DELETE FROM ledger_rules WHERE tenant_id = ?1 AND id = ?2", [id]);
    parts.outbox.audit({
      at: now,
      type: "rule.deleted",
      actor,
      requestId: null,
      subject: id,
      data: { kind, name: existing.spec.name },
    });
  });
  if (kind === "rate_limit") parts.limiter.forget(id);
  await parts.send();
  return true;
}

export function budgetStatus(parts: LedgerParts, { id, now = Date.now() }: BudgetStatusRequest): BudgetStatus | null {
  const budget = parts.rules.get("budget", id);
  return budget ? parts.book.status(budget, parts.catalog.settings().timeZone, now) : null;
}

/** Every budget with its current window (spent, held, remaining), in creation order. */
export function budgetStatuses(parts: LedgerParts, { now = Date.now() }: BudgetStatusesRequest): BudgetStatus[] {
  const { timeZone } = parts.catalog.settings();
  return parts.rules.list("budget").map((budget) => parts.book.status(budget, timeZone, now));
}
