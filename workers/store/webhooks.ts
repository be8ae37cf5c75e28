// Webhook endpoints, the messages sent to them and every delivery attempt (webhook_endpoints,
// webhook_messages, webhook_attempts; d1/SCHEMA.md). Secrets are stored sealed (the caller seals
// and opens them); a receiver's response body is never stored.
import type { TenantDb } from "./tenant-db.ts";

export type WebhookEndpointRow = {
  id: string;
  url: string;
  description: string;
  /** JSON array of event types, or null for the default set */
  event_types: string | null;
  secret: string;
  secret_hint: string;
  previous_secret: string | null;
  previous_until: number | null;
  created_at: number;
  updated_at: number;
  disabled_at: number | null;
  disabled_reason: string | null;
  failing_since: number | null;
  last_success_at: number | null;
};

const ENDPOINT_COLUMNS =
  "id, url, description, event_types, secret, secret_hint, previous_secret, previous_until, created_at, updated_at, disabled_at, disabled_reason, failing_since, last_success_at";

export type WebhookMessageRow = {
  id: string;
  endpoint_id: string;
  seq: number | null;
  type: string;
  payload: string;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  created_at: number;
  enqueued_at: number | null;
  last_attempt_at: number | null;
  delivered_at: number | null;
};

export type WebhookAttemptRow = {
  message_id: string;
  endpoint_id: string;
  attempt: number;
  at: number;
  status_code: number | null;
  latency_ms: number;
  error_class: string | null;
};

export async function insertWebhookEndpoint(db: TenantDb, e: WebhookEndpointRow): Promise<void> {
  await db.run(
    `INSERT INTO webhook_endpoints (tenant_id, ${ENDPOINT_COLUMNS})
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)`,
    e.id,
    e.url,
    e.description,
    e.event_types,
    e.secret,
    e.secret_hint,
    e.previous_secret,
    e.previous_until,
    e.created_at,
    e.updated_at,
    e.disabled_at,
    e.disabled_reason,
    e.failing_since,
    e.last_success_at,
  );
}

export function countWebhookEndpoints(db: TenantDb): Promise<number> {
  return db
    .first<{ n: number }>("SELECT COUNT(*) AS n FROM webhook_endpoints WHERE tenant_id = ?1")
    .then((r) => r?.n ?? 0);
}

export function listWebhookEndpoints(db: TenantDb): Promise<WebhookEndpointRow[]> {
  return db.all<WebhookEndpointRow>(
    `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = ?1 ORDER BY created_at, id`,
  );
}

export function getWebhookEndpoint(db: TenantDb, id: string): Promise<WebhookEndpointRow | null> {
  return db.first<WebhookEndpointRow>(
    `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = ?1 AND id = ?2`,
    id,
  );
}

/** Endpoints that receive new events: not disabled. */
export function activeWebhookEndpoints(db: TenantDb): Promise<WebhookEndpointRow[]> {
  return db.all<WebhookEndpointRow>(
    `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = ?1 AND disabled_at IS NULL`,
  );
}

export type EndpointChanges = {
  url: string;
  description: string;
  event_types: string | null;
  /** re-enabling clears the disabled state and the failure streak */
  enable: boolean;
};

export async function updateWebhookEndpoint(db: TenantDb, id: string, c: EndpointChanges, now: number) {
  await db.run(
    `UPDATE webhook_endpoints SET url = ?3, description = ?4, event_types = ?5, updated_at = ?6,
       disabled_at = CASE WHEN ?7 THEN NULL ELSE disabled_at END,
       disabled_reason = CASE WHEN ?7 THEN NULL ELSE disabled_reason END,
       failing_since = CASE WHEN ?7 THEN NULL ELSE failing_since END
     WHERE tenant_id = ?1 AND id = ?2`,
    id,
    c.url,
    c.description,
    c.event_types,
    now,
    c.enable ? 1 : 0,
  );
}

export async function setWebhookSecret(
  db: TenantDb,
  id: string,
  s: { secret: string; hint: string; previousSecret: string | null; previousUntil: number | null },
  now: number,
): Promise<void> {
  await db.run(
    `UPDATE webhook_endpoints SET secret = ?3, secret_hint = ?4, previous_secret = ?5, previous_until = ?6, updated_at = ?7
     WHERE tenant_id = ?1 AND id = ?2`,
    id,
    s.secret,
    s.hint,
    s.previousSecret,
    s.previousUntil,
    now,
  );
}

/** Deletes the endpoint with its messages and attempts; false when there was no such endpoint. */
export async function deleteWebhookEndpoint(db: TenantDb, id: string): Promise<boolean> {
  const [, , deleted] = await db.batch([
    db.prepare("DELETE FROM webhook_attempts WHERE tenant_id = ?1 AND endpoint_id = ?2", id),
    db.prepare("DELETE FROM webhook_messages WHERE tenant_id = ?1 AND endpoint_id = ?2", id),
    db.prepare("DELETE FROM webhook_endpoints WHERE tenant_id = ?1 AND id = ?2", id),
  ]);
  return (deleted?.meta.changes ?? 0) > 0;
}

/** Disables an enabled endpoint; false when it was already disabled (or is gone). */
export async function disableWebhookEndpoint(db: TenantDb, id: string, reason: string, now: number): Promise<boolean> {
  const result = await db.run(
    `UPDATE webhook_endpoints SET disabled_at = ?3, disabled_reason = ?4, updated_at = ?3
     WHERE tenant_id = ?1 AND id = ?2 AND disabled_at IS NULL`,
    id,
    now,
    reason,
  );
  return result.meta.changes > 0;
}

/** Stores messages; one already stored (same id: same endpoint and seq) is left as it is. */
export async function insertWebhookMessages(db: TenantDb, rows: WebhookMessageRow[]): Promise<void> {
  if (rows.length === 0) return;
  await db.batch(
    rows.map((m) =>
      db.prepare(
        `INSERT INTO webhook_messages (tenant_id, id, endpoint_id, seq, type, payload, status, attempts, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING`,
        m.id,
        m.endpoint_id,
        m.seq,
        m.type,
        m.payload,
        m.status,
        m.attempts,
        m.created_at,
      ),
    ),
  );
}

/** Of these message ids, the pending ones never handed to the queue. */
export function unqueuedWebhookMessages(db: TenantDb, ids: string[]): Promise<{ id: string }[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db.all<{ id: string }>(
    `SELECT id FROM webhook_messages WHERE tenant_id = ?1 AND status = 'pending' AND enqueued_at IS NULL
       AND id IN (SELECT value FROM json_each(?2))`,
    JSON.stringify(ids),
  );
}

export async function markWebhookMessagesQueued(db: TenantDb, ids: string[], now: number): Promise<void> {
  if (ids.length === 0) return;
  await db.run(
    "UPDATE webhook_messages SET enqueued_at = ?3 WHERE tenant_id = ?1 AND id IN (SELECT value FROM json_each(?2))",
    JSON.stringify(ids),
    now,
  );
}

/** These messages (those that exist), in one query. */
export function getWebhookMessages(db: TenantDb, ids: string[]): Promise<WebhookMessageRow[]> {
  return db.all<WebhookMessageRow>(
    `SELECT id, endpoint_id, seq, type, payload, status, attempts, created_at, enqueued_at, last_attempt_at, delivered_at
     FROM webhook_messages WHERE tenant_id = ?1 AND id IN (SELECT value FROM json_each(?2))`,
    JSON.stringify(ids),
  );
}

/** These endpoints (those that exist), in one query. */
export function getWebhookEndpoints(db: TenantDb, ids: string[]): Promise<WebhookEndpointRow[]> {
  return db.all<WebhookEndpointRow>(
    `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE tenant_id = ?1 AND id IN (SELECT value FROM json_each(?2))`,
    JSON.stringify(ids),
  );
}

/** Marks messages failed without an attempt (their endpoint is disabled: kept for recover). */
export async function failWebhookMessages(db: TenantDb, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.run(
    "UPDATE webhook_messages SET status = 'failed' WHERE tenant_id = ?1 AND id IN (SELECT value FROM json_each(?2))",
    JSON.stringify(ids),
  );
}

/** Attempts, and each message's state after it, in one batch (the endpoint's failure streak
 * ended by a success, begun by a failure). */
export async function recordWebhookAttempts(
  db: TenantDb,
  attempts: { attempt: WebhookAttemptRow; status: WebhookMessageRow["status"] }[],
): Promise<void> {
  if (attempts.length === 0) return;
  await db.batch(
    attempts.flatMap(({ attempt: a, status }) => [
      db.prepare(
        `INSERT INTO webhook_attempts (tenant_id, message_id, endpoint_id, attempt, at, status_code, latency_ms, error_class)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING`,
        a.message_id,
        a.endpoint_id,
        a.attempt,
        a.at,
        a.status_code,
        a.latency_ms,
        a.error_class,
      ),
      db.prepare(
        `UPDATE webhook_messages SET attempts = ?3, status = ?4, last_attempt_at = ?5,
           delivered_at = CASE WHEN ?4 = 'delivered' THEN ?5 ELSE delivered_at END
         WHERE tenant_id = ?1 AND id = ?2`,
        a.message_id,
        a.attempt,
        status,
        a.at,
      ),
      a.error_class === null
        ? db.prepare(
            "UPDATE webhook_endpoints SET failing_since = NULL, last_success_at = ?3 WHERE tenant_id = ?1 AND id = ?2",
            a.endpoint_id,
            a.at,
          )
        : db.prepare(
            "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, ?3) WHERE tenant_id = ?1 AND id = ?2",
            a.endpoint_id,
            a.at,
          ),
    ]),
  );
}

/** Where a page of attempts starts: after this one, newest first. */
export type AttemptCursor = { at: number; messageId: string; attempt: number };

/** The endpoint's attempts, newest first (by time, then message and attempt, so attempts logged
 * in the same millisecond are neither skipped nor repeated), after `before` or from the newest. */
export function listWebhookAttempts(
  db: TenantDb,
  endpointId: string,
  page: { before: AttemptCursor | null; limit: number },
): Promise<(WebhookAttemptRow & { seq: number | null; type: string })[]> {
  const b = page.before;
  return db.all(
    `SELECT a.message_id, a.endpoint_id, a.attempt, a.at, a.status_code, a.latency_ms, a.error_class, m.seq, m.type
       FROM webhook_attempts a JOIN webhook_messages m ON m.tenant_id = a.tenant_id AND m.id = a.message_id
      WHERE a.tenant_id = ?1 AND a.endpoint_id = ?2
        AND (?3 IS NULL OR (a.at, a.message_id, a.attempt) < (?3, ?4, ?5))
      ORDER BY a.at DESC, a.message_id DESC, a.attempt DESC LIMIT ?6`,
    endpointId,
    b?.at ?? null,
    b?.messageId ?? null,
    b?.attempt ?? null,
    page.limit,
  );
}

/** Failed messages of the endpoint created at or after `since`, oldest first (at most `limit`). */
export function failedWebhookMessages(
  db: TenantDb,
  endpointId: string,
  since: number,
  limit: number,
): Promise<{ id: string }[]> {
  return db.all<{ id: string }>(
    `SELECT id FROM webhook_messages WHERE tenant_id = ?1 AND endpoint_id = ?2 AND status = 'failed' AND created_at >= ?3
      ORDER BY created_at LIMIT ?4`,
    endpointId,
    since,
    limit,
  );
}

/** Puts messages back to be sent again, from the schedule's first attempt (recover, replay);
 * `attempts` keeps counting, so every attempt keeps its own log row. */
export async function resendWebhookMessages(db: TenantDb, ids: string[], now: number): Promise<void> {
  if (ids.length === 0) return;
  await db.run(
    `UPDATE webhook_messages SET status = 'pending', enqueued_at = ?3
      WHERE tenant_id = ?1 AND id IN (SELECT value FROM json_each(?2))`,
    JSON.stringify(ids),
    now,
  );
}
