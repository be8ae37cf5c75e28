// The audit event: one per decision the ledger makes (a call admitted or refused, a budget
// threshold crossed, a lease granted, a hold expired) and per change to keys and rules. Metadata
// only: ids, names, codes, amounts; never a prompt, a response, a key or a credential. `seq`
// is the tenant's own order (assigned by its ledger, strictly increasing), so order is
// recoverable wherever the events travel.

export type AuditType =
  | "call.admitted"
  | "call.refused"
  | "budget.threshold"
  | "hold.expired"
  | "lease.granted"
  | "key.created"
  | "key.revoked"
  | "rule.created"
  | "rule.updated"
  | "rule.deleted"
  | "settings.updated";

export type AuditActor = { kind: "key"; id: string } | { kind: "admin"; id: string } | { kind: "system" };

export type AuditEvent = {
  v: 1;
  tenantId: string;
  seq: number;
  at: number;
  type: AuditType;
  actor: AuditActor;
  requestId: string | null;
  /** the key, budget, policy or rate limit the event is about */
  subject: string | null;
  data: Record<string, string | number | boolean | null | string[]>;
};

export type AuditDraft = Omit<AuditEvent, "v" | "tenantId" | "seq">;

export const SYSTEM: AuditActor = { kind: "system" };

export function isAuditEvent(body: unknown): body is AuditEvent {
  if (typeof body !== "object" || body === null) return false;
  const e = body as Partial<AuditEvent>;
  return e.v === 1 && typeof e.tenantId === "string" && typeof e.seq === "number" && typeof e.type === "string";
}
