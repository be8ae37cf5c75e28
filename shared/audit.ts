// The audit event: one per decision the ledger makes (a call admitted or refused, a budget
// threshold crossed, a lease granted, a hold expired) and per change to keys and rules. Metadata
// only: ids, names, codes, amounts; never a prompt, a response, a key or a credential. `seq`
// is the tenant's own order (assigned by its ledger, strictly increasing), so order is
// recoverable wherever the events travel.
import { itemsOfMessage } from "./queue-limits.ts";

export const AUDIT_TYPES = [
  "call.admitted",
  "call.refused",
  "budget.threshold",
  "hold.expired",
  "lease.granted",
  "key.created",
  "key.revoked",
  "key.rotated",
  "provider.set",
  "provider.deleted",
  "rule.created",
  "rule.updated",
  "rule.deleted",
  "settings.updated",
  // delivery (workers/ledger/outbox.ts): something the ledger could not deliver was set aside
  "audit.event_dropped",
  "usage.event_dropped",
  "mirror.statement_dropped",
  // accounts (workers/auth): data carries `source`, the address the action came from
  "auth.signed_in",
  "auth.sign_in_failed",
  "auth.locked",
  "auth.unlocked",
  "auth.password_changed",
  "auth.password_reset_issued",
  "auth.password_reset",
  "mfa.enrolled",
  "mfa.removed",
  "mfa.recovery_code_used",
  "mfa.recovery_codes_regenerated",
  "session.revoked",
  "member.invited",
  "member.invitation_revoked",
  "member.joined",
  "member.role_changed",
  "member.removed",
  "token.created",
  "token.revoked",
  "org.mfa_requirement_changed",
  "org.sso_configured",
  "org.sso_removed",
  "org.closed",
  // webhook endpoints (workers/webhooks/)
  "webhook.created",
  "webhook.updated",
  "webhook.deleted",
  "webhook.secret_rotated",
  "webhook.disabled",
  // the cloud-bill intake (workers/cloud/)
  "cloud.import_created",
  "cloud.connection_saved",
  "cloud.connection_deleted",
  "cloud.connection_cut",
  // access (workers/auth/access.ts): a dashboard page or a management or operator API request
  "access.dashboard",
  "access.api",
  "access.operator",
] as const;

export type AuditType = (typeof AUDIT_TYPES)[number];

export type AuditActor =
  | { kind: "key"; id: string }
  | { kind: "admin"; id: string }
  | { kind: "user"; id: string }
  /** the deployment's operator (OPERATOR_TOKEN, /internal/v1): one credential, so no id */
  | { kind: "operator" }
  | { kind: "system" };

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

/** "admin:<token id>", "user:<id>", "key:<id>", "operator" or "system": who did something, as one string. */
export function actorRef(actor: AuditActor): string {
  return "id" in actor ? `${actor.kind}:${actor.id}` : actor.kind;
}

const KNOWN_TYPES: ReadonlySet<string> = new Set(AUDIT_TYPES);

/**
 * Several events of one organisation in one queue message, in seq order: how the ledger's outbox
 * sends them (a message costs the queue the same whether it holds one event or a hundred).
 */
export type AuditPack = { v: 1; pack: "audit"; tenantId: string; events: AuditEvent[] };

/** The events an audit queue message carries (one event, or a pack of one organisation's); null for anything else. */
export function auditEventsOf(body: unknown): AuditEvent[] | null {
  return itemsOfMessage(body, "audit", isAuditEvent);
}

/** A v1 event of a catalogued type, with its envelope's fields of the right kinds. */
export function isAuditEvent(body: unknown): body is AuditEvent {
  if (typeof body !== "object" || body === null) return false;
  const e = body as Partial<Record<keyof AuditEvent, unknown>>;
  return (
    e.v === 1 &&
    typeof e.tenantId === "string" &&
    Number.isSafeInteger(e.seq) &&
    (e.seq as number) >= 1 &&
    Number.isFinite(e.at) &&
    typeof e.type === "string" &&
    KNOWN_TYPES.has(e.type) &&
    typeof e.actor === "object" &&
    e.actor !== null &&
    typeof e.data === "object" &&
    e.data !== null
  );
}
