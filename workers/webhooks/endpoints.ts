// What an organisation does with its webhook endpoints, for the API and the dashboard alike:
// create (the signing secret shown once), list, read, change (URL, types, description, enable or
// disable), delete, rotate the secret (both sign during an overlap), send a test message, list
// delivery attempts, recover (send every failed message since a time again) and replay (send a
// seq range again, from the archive when D1 no longer holds it). Each change is an audit event.
import { z } from "zod";
import { AUDIT_TYPES, type AuditActor, type AuditDraft, type AuditEvent, type AuditType } from "../../shared/audit.ts";
import { dataKeyring, open, seal } from "../../shared/crypto.ts";
import { AppError, invalid } from "../../shared/errors.ts";
import { newId } from "../../shared/ids.ts";
import { newWebhookSecret, secretHint } from "../../shared/standard-webhooks.ts";
import { HOUR_MS } from "../../shared/time.ts";
import { readSegmentLines } from "../../shared/tlog.ts";
import { checkWebhookUrl } from "../../shared/upstream-url.ts";
import { listSegments, readSegment } from "../archive/index.ts";
import { ledgerFor } from "../ledger/index.ts";
import {
  auditEventFromRow,
  auditEventsAfter,
  countWebhookEndpoints,
  deleteWebhookEndpoint,
  disableWebhookEndpoint,
  failedWebhookMessages,
  getWebhookEndpoint,
  insertWebhookEndpoint,
  insertWebhookMessages,
  listWebhookAttempts,
  listWebhookEndpoints,
  resendWebhookMessages,
  setWebhookSecret,
  tenantDb,
  updateWebhookEndpoint,
  type AttemptCursor,
  type TenantDb,
  type WebhookEndpointRow,
} from "../store/index.ts";
import { secretContext } from "./deliver.ts";
import { endpointTypes, eventMessage, subscribed, testMessage } from "./messages.ts";
import { enqueueAgain } from "./queue.ts";

const MAX_ENDPOINTS = 20;
export const DEFAULT_OVERLAP_HOURS = 24;
const MAX_REPLAY = 10_000;
const MAX_RECOVER = 10_000;

/** Who asks, for which organisation, and the loopback rule of this deployment. */
export type WebhookCaller = { env: Env; tenantId: string; actor: AuditActor; now?: number };

/** An endpoint as the API shows it: never a secret. */
export type WebhookView = {
  id: string;
  url: string;
  description: string;
  event_types: AuditType[] | null;
  secret_hint: string;
  previous_secret_valid_until: string | null;
  enabled: boolean;
  disabled_at: string | null;
  disabled_reason: string | null;
  failing_since: string | null;
  last_success_at: string | null;
  created_at: string;
  updated_at: string;
};

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function webhookView(e: WebhookEndpointRow, now = Date.now()): WebhookView {
  const overlapping = e.previous_secret !== null && e.previous_until !== null && e.previous_until > now;
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    event_types: endpointTypes(e),
    secret_hint: e.secret_hint,
    previous_secret_valid_until: overlapping ? iso(e.previous_until) : null,
    enabled: e.disabled_at === null,
    disabled_at: iso(e.disabled_at),
    disabled_reason: e.disabled_reason,
    failing_since: iso(e.failing_since),
    last_success_at: iso(e.last_success_at),
    created_at: iso(e.created_at) ?? "",
    updated_at: iso(e.updated_at) ?? "",
  };
}

const EventTypes = z
  .array(z.enum(AUDIT_TYPES))
  .min(1)
  .max(AUDIT_TYPES.length)
  .refine((types) => new Set(types).size === types.length, "an event type is listed twice");
const Description = z.string().trim().max(200);
const CreateBody = z.strictObject({
  url: z.string(),
  event_types: EventTypes.optional(),
  description: Description.optional(),
});
const UpdateBody = z.strictObject({
  url: z.string().optional(),
  event_types: EventTypes.nullable().optional(),
  description: Description.optional(),
  enabled: z.boolean().optional(),
});
const RotateBody = z.strictObject({ overlap_hours: z.number().int().min(0).max(168).optional() });
const RecoverBody = z.strictObject({ since: z.iso.datetime({ offset: true }) });
const ReplayBody = z.strictObject({
  from_seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  to_seq: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
});

function urlProblem(env: Env, url: string): AppError | null {
  return checkWebhookUrl(url, { allowLoopback: env.ALLOW_LOOPBACK_UPSTREAMS === "true" });
}

function hostOf(url: string): string {
  return new URL(url).host;
}

async function audit(c: WebhookCaller, draft: Omit<AuditDraft, "at" | "actor" | "requestId">, now: number) {
  await ledgerFor(c.env, c.tenantId).recordAudit({
    tenantId: c.tenantId,
    drafts: [{ ...draft, at: now, actor: c.actor, requestId: null }],
  });
}

function sealSecret(env: Env, tenantId: string, id: string, which: "current" | "previous", secret: string) {
  return seal(dataKeyring(env.DATA_KEYS), secret, secretContext(tenantId, id, which));
}

const notFound = () => new AppError("not_found", "No such webhook endpoint.");

async function endpoint(db: TenantDb, id: string): Promise<WebhookEndpointRow | AppError> {
  return (await getWebhookEndpoint(db, id)) ?? notFound();
}

export async function createWebhook(
  c: WebhookCaller,
  body: unknown,
): Promise<{ endpoint: WebhookView; secret: string } | AppError> {
  const parsed = CreateBody.safeParse(body);
  if (!parsed.success) return invalid(parsed.error.issues);
  const problem = urlProblem(c.env, parsed.data.url);
  if (problem) return problem;
  const db = tenantDb(c.env.DB, c.tenantId);
  if ((await countWebhookEndpoints(db)) >= MAX_ENDPOINTS) {
    return new AppError("conflict", `An organisation has at most ${MAX_ENDPOINTS} webhook endpoints.`);
  }
  const now = c.now ?? Date.now();
  const id = `wh_${newId()}`;
  const secret = newWebhookSecret();
  const row: WebhookEndpointRow = {
    id,
    url: parsed.data.url,
    description: parsed.data.description ?? "",
    event_types: parsed.data.event_types ? JSON.stringify(parsed.data.event_types) : null,
    secret: await sealSecret(c.env, c.tenantId, id, "current", secret),
    secret_hint: secretHint(secret),
    previous_secret: null,
    previous_until: null,
    created_at: now,
    updated_at: now,
    disabled_at: null,
    disabled_reason: null,
    failing_since: null,
    last_success_at: null,
  };
  await insertWebhookEndpoint(db, row);
  await audit(
    c,
    {
      type: "webhook.created",
      subject: id,
      data: { host: hostOf(row.url), eventTypes: parsed.data.event_types ?? null, hint: row.secret_hint },
    },
    now,
  );
  return { endpoint: webhookView(row, now), secret };
}

export async function listWebhooks(c: WebhookCaller): Promise<WebhookView[]> {
  const now = c.now ?? Date.now();
  return (await listWebhookEndpoints(tenantDb(c.env.DB, c.tenantId))).map((e) => webhookView(e, now));
}

export async function getWebhook(c: WebhookCaller, id: string): Promise<WebhookView | AppError> {
  const found = await endpoint(tenantDb(c.env.DB, c.tenantId), id);
  return found instanceof AppError ? found : webhookView(found, c.now ?? Date.now());
}

export async function updateWebhook(c: WebhookCaller, id: string, body: unknown): Promise<WebhookView | AppError> {
  const parsed = UpdateBody.safeParse(body);
  if (!parsed.success) return invalid(parsed.error.issues);
  const db = tenantDb(c.env.DB, c.tenantId);
  const found = await endpoint(db, id);
  if (found instanceof AppError) return found;
  const change = parsed.data;
  if (change.url !== undefined) {
    const problem = urlProblem(c.env, change.url);
    if (problem) return problem;
  }
  const now = c.now ?? Date.now();
  const enable = change.enabled === true && found.disabled_at !== null;
  const disable = change.enabled === false && found.disabled_at === null;
  const eventTypes =
    change.event_types === undefined ? found.event_types : change.event_types && JSON.stringify(change.event_types);
  await updateWebhookEndpoint(
    db,
    id,
    {
      url: change.url ?? found.url,
      description: change.description ?? found.description,
      event_types: eventTypes,
      enable,
    },
    now,
  );
  if (disable) await disableWebhookEndpoint(db, id, "manual", now);
  const data: AuditDraft["data"] = {};
  if (change.url !== undefined && change.url !== found.url) data.host = hostOf(change.url);
  if (change.event_types !== undefined) data.eventTypes = change.event_types;
  if (change.description !== undefined) data.description = change.description;
  if (enable || disable) data.enabled = enable;
  await audit(
    c,
    {
      type: disable ? "webhook.disabled" : "webhook.updated",
      subject: id,
      data: disable ? { ...data, reason: "manual" } : data,
    },
    now,
  );
  const after = await endpoint(db, id);
  return after instanceof AppError ? after : webhookView(after, now);
}

export async function deleteWebhook(c: WebhookCaller, id: string): Promise<AppError | null> {
  const db = tenantDb(c.env.DB, c.tenantId);
  const found = await endpoint(db, id);
  if (found instanceof AppError) return found;
  if (!(await deleteWebhookEndpoint(db, id))) return notFound();
  await audit(c, { type: "webhook.deleted", subject: id, data: { host: hostOf(found.url) } }, c.now ?? Date.now());
  return null;
}

/** A new secret; the current one becomes the previous and keeps signing until the overlap ends. */
export async function rotateWebhookSecret(
  c: WebhookCaller,
  id: string,
  body: unknown,
): Promise<{ endpoint: WebhookView; secret: string } | AppError> {
  const parsed = RotateBody.safeParse(body ?? {});
  if (!parsed.success) return invalid(parsed.error.issues);
  const db = tenantDb(c.env.DB, c.tenantId);
  const found = await endpoint(db, id);
  if (found instanceof AppError) return found;
  const now = c.now ?? Date.now();
  const overlapHours = parsed.data.overlap_hours ?? DEFAULT_OVERLAP_HOURS;
  const previousUntil = overlapHours === 0 ? null : now + overlapHours * HOUR_MS;
  const current = await open(dataKeyring(c.env.DATA_KEYS), found.secret, secretContext(c.tenantId, id, "current"));
  const secret = newWebhookSecret();
  await setWebhookSecret(
    db,
    id,
    {
      secret: await sealSecret(c.env, c.tenantId, id, "current", secret),
      hint: secretHint(secret),
      previousSecret: previousUntil === null ? null : await sealSecret(c.env, c.tenantId, id, "previous", current),
      previousUntil,
    },
    now,
  );
  await audit(
    c,
    { type: "webhook.secret_rotated", subject: id, data: { hint: secretHint(secret), previousUntil } },
    now,
  );
  const after = await endpoint(db, id);
  return after instanceof AppError ? after : { endpoint: webhookView(after, now), secret };
}

export async function sendTestMessage(c: WebhookCaller, id: string): Promise<{ message_id: string } | AppError> {
  const db = tenantDb(c.env.DB, c.tenantId);
  const found = await endpoint(db, id);
  if (found instanceof AppError) return found;
  if (found.disabled_at !== null) return new AppError("conflict", "The endpoint is disabled; enable it first.");
  const message = testMessage(c.tenantId, id, c.now ?? Date.now());
  await insertWebhookMessages(db, [message]);
  await resend(c, db, [message.id]);
  return { message_id: message.id };
}

export type DeliveryView = {
  message_id: string;
  seq: number | null;
  type: string;
  attempt: number;
  at: string;
  status_code: number | null;
  latency_ms: number;
  error: string | null;
};

export async function listDeliveries(
  c: WebhookCaller,
  id: string,
  page: { before: string | undefined; limit: string | undefined },
): Promise<{ data: DeliveryView[]; next_before: string | null } | AppError> {
  const db = tenantDb(c.env.DB, c.tenantId);
  const found = await endpoint(db, id);
  if (found instanceof AppError) return found;
  const limit = page.limit ?? "50";
  if (!/^\d{1,3}$/.test(limit) || Number(limit) < 1 || Number(limit) > 200) {
    return new AppError("bad_request", "limit must be 1-200.", "limit");
  }
  const before = page.before === undefined ? null : parseAttemptCursor(page.before);
  if (before instanceof AppError) return before;
  const rows = await listWebhookAttempts(db, id, { before, limit: Number(limit) });
  const data = rows.map((r) => ({
    message_id: r.message_id,
    seq: r.seq,
    type: r.type,
    attempt: r.attempt,
    at: new Date(r.at).toISOString(),
    status_code: r.status_code,
    latency_ms: r.latency_ms,
    error: r.error_class,
  }));
  const last = rows.at(-1);
  const next = rows.length === Number(limit) && last ? `${last.at}.${last.attempt}.${last.message_id}` : null;
  return { data, next_before: next };
}

/** The deliveries cursor `next_before` gives: `<epoch ms>.<attempt>.<message id>`. */
function parseAttemptCursor(text: string): AttemptCursor | AppError {
  const match = /^(\d{1,15})\.(\d{1,6})\.(msg_[A-Za-z0-9_]{1,80})$/.exec(text);
  if (!match) return new AppError("bad_request", "before must be a next_before value from an earlier page.", "before");
  return { at: Number(match[1]), attempt: Number(match[2]), messageId: match[3] ?? "" };
}

/** Sends every message of the endpoint that failed since `since` again, oldest first. */
export async function recoverWebhook(
  c: WebhookCaller,
  id: string,
  body: unknown,
): Promise<{ messages: number } | AppError> {
  const parsed = RecoverBody.safeParse(body);
  if (!parsed.success) return invalid(parsed.error.issues);
  const db = tenantDb(c.env.DB, c.tenantId);
  const found = await endpoint(db, id);
  if (found instanceof AppError) return found;
  if (found.disabled_at !== null) return new AppError("conflict", "The endpoint is disabled; enable it first.");
  const failed = (await failedWebhookMessages(db, id, Date.parse(parsed.data.since), MAX_RECOVER)).map((m) => m.id);
  await resend(c, db, failed);
  return { messages: failed.length };
}

/** Sends the events from_seq..to_seq of the types the endpoint takes again, each with its one
 * webhook-id; events D1 no longer holds are read from the archive. */
export async function replayWebhook(
  c: WebhookCaller,
  id: string,
  body: unknown,
): Promise<{ messages: number } | AppError> {
  const parsed = ReplayBody.safeParse(body);
  if (!parsed.success) return invalid(parsed.error.issues);
  const { from_seq: from, to_seq: to } = parsed.data;
  if (to < from) return new AppError("bad_request", "to_seq must not be below from_seq.", "to_seq");
  if (to - from >= MAX_REPLAY) {
    return new AppError("bad_request", `A replay covers at most ${MAX_REPLAY} events; split the range.`, "to_seq");
  }
  const db = tenantDb(c.env.DB, c.tenantId);
  const found = await endpoint(db, id);
  if (found instanceof AppError) return found;
  if (found.disabled_at !== null) return new AppError("conflict", "The endpoint is disabled; enable it first.");
  const events = await eventsBetween(c.env, db, from, to);
  const types = endpointTypes(found);
  const now = c.now ?? Date.now();
  const messages = events.filter((e) => subscribed(types, e.type)).map((e) => eventMessage(id, e, now));
  await insertWebhookMessages(db, messages);
  await resend(
    c,
    db,
    messages.map((m) => m.id),
  );
  return { messages: messages.length };
}

async function resend(c: WebhookCaller, db: TenantDb, ids: string[]): Promise<void> {
  await resendWebhookMessages(db, ids, c.now ?? Date.now());
  await enqueueAgain(c.env, c.tenantId, ids);
}

/** The tenant's events with seq in [from, to]: from D1's index, and from the archive's segments
 * for any seq D1 does not hold. */
async function eventsBetween(env: Env, db: TenantDb, from: number, to: number): Promise<AuditEvent[]> {
  const found = new Map<number, AuditEvent>();
  for (let after = from - 1; after < to;) {
    const rows = await auditEventsAfter(db, { after, type: null, limit: 500 });
    for (const r of rows) if (r.seq <= to) found.set(r.seq, auditEventFromRow(db.tenantId, r));
    const last = rows.at(-1);
    if (!last || rows.length < 500) break;
    after = last.seq;
  }
  if (found.size === to - from + 1) return [...found.values()];
  const { data } = await listSegments(env, db.tenantId, { fromSeq: from, limit: 100 });
  for (const segment of data) {
    if (segment.firstSeq > to) break;
    const object = await readSegment(env, db.tenantId, segment.name);
    if (object instanceof AppError) continue;
    for await (const line of readSegmentLines(object.body)) {
      const event = JSON.parse(line) as AuditEvent;
      if (event.seq >= from && event.seq <= to && !found.has(event.seq)) found.set(event.seq, event);
    }
  }
  return [...found.values()].toSorted((a, b) => a.seq - b.seq);
}
