// From the audit consumer: each new audit event becomes one message per endpoint that takes its
// type (and existed when it happened), stored and queued for delivery. Idempotent: a redelivered
// batch finds its messages stored (same ids) and already queued.
import type { AuditEvent } from "../../shared/audit.ts";
import { activeWebhookEndpoints, insertWebhookMessages, tenantDb } from "../store/index.ts";
import { endpointTypes, eventMessage, subscribed } from "./messages.ts";
import { enqueueNew } from "./queue.ts";

export async function fanOut(env: Env, tenantId: string, events: readonly AuditEvent[], now = Date.now()) {
  const db = tenantDb(env.DB, tenantId);
  const endpoints = await activeWebhookEndpoints(db);
  if (endpoints.length === 0) return;
  const messages = endpoints.flatMap((endpoint) => {
    const types = endpointTypes(endpoint);
    return events
      .filter((e) => e.at >= endpoint.created_at && subscribed(types, e.type))
      .map((e) => eventMessage(endpoint.id, e, now));
  });
  await insertWebhookMessages(db, messages);
  await enqueueNew(
    env,
    db,
    messages.map((m) => m.id),
    now,
  );
}
