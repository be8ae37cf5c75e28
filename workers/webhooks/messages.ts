// What an endpoint receives: which event types (its list, or every type but the high-volume ones),
// the message for one audit event (its id is the Standard Webhooks `webhook-id`: one per endpoint
// and seq, so a retry, a recover and a replay all carry the same id) and its body
// `{ type, timestamp, data }` with the v1 audit event, seq included, as `data`.
import { z } from "zod";
import { AUDIT_TYPES, type AuditEvent, type AuditType } from "../../shared/audit.ts";
import { newId } from "../../shared/ids.ts";
import { parseStored } from "../../shared/stored-json.ts";
import type { WebhookEndpointRow, WebhookMessageRow } from "../store/index.ts";

/** Sent only to endpoints that list them. */
export const HIGH_VOLUME_TYPES: readonly AuditType[] = [
  "call.admitted",
  "access.dashboard",
  "access.api",
  "access.operator",
];

/** The type of the message POST /api/v1/webhooks/{id}/test sends (not an audit event). */
export const TEST_TYPE = "webhook.test";

const EventTypes = z.array(z.enum(AUDIT_TYPES)).nullable();

/** The endpoint's own list of types, or null for the default set. */
export function endpointTypes(e: Pick<WebhookEndpointRow, "event_types">): AuditType[] | null {
  return e.event_types === null ? null : parseStored(EventTypes, e.event_types, "webhook_endpoints.event_types");
}

export function subscribed(types: readonly AuditType[] | null, type: AuditType): boolean {
  return types === null ? !HIGH_VOLUME_TYPES.includes(type) : types.includes(type);
}

function eventMessageId(endpointId: string, seq: number): string {
  return `msg_${endpointId}_${seq}`;
}

function pending(
  id: string,
  endpointId: string,
  seq: number | null,
  type: string,
  body: { timestamp: number; data: unknown },
  now: number,
): WebhookMessageRow {
  const payload = JSON.stringify({ type, timestamp: new Date(body.timestamp).toISOString(), data: body.data });
  return {
    id,
    endpoint_id: endpointId,
    seq,
    type,
    payload,
    status: "pending",
    attempts: 0,
    created_at: now,
    enqueued_at: null,
    last_attempt_at: null,
    delivered_at: null,
  };
}

export function eventMessage(endpointId: string, event: AuditEvent, now: number): WebhookMessageRow {
  return pending(
    eventMessageId(endpointId, event.seq),
    endpointId,
    event.seq,
    event.type,
    { timestamp: event.at, data: event },
    now,
  );
}

export function testMessage(tenantId: string, endpointId: string, now: number): WebhookMessageRow {
  const data = { tenantId, endpointId, message: "A test message from Outlay: your endpoint receives and verifies." };
  return pending(`msg_test_${newId()}`, endpointId, null, TEST_TYPE, { timestamp: now, data }, now);
}
