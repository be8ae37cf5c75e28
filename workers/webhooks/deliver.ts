// One delivery attempt per queue message (docs/webhooks.md, "Delivery"): the message is POSTed to
// its endpoint with Standard Webhooks headers — the same `webhook-id` every time, a fresh
// `webhook-timestamp`, a `v1,` signature per secret that signs (the previous one too while a
// rotation overlaps) — with a 15 s timeout and no redirect followed. Only a 2xx is a success; a
// 410 disables the endpoint; any other answer, a redirect, a timeout or a network error is a
// failure, retried on the schedule (queue.ts) until it runs out, then the message is kept as
// failed for recover and replay. An endpoint failing for 5 days straight is disabled. Every
// attempt is logged: time, status code, latency, error class — never the response body.
import { SYSTEM } from "../../shared/audit.ts";
import { dataKeyring, open } from "../../shared/crypto.ts";
import { DAY_MS } from "../../shared/time.ts";
import { checkWebhookUrl } from "../../shared/upstream-url.ts";
import { webhookHeaders } from "../../shared/standard-webhooks.ts";
import { ledgerFor } from "../ledger/index.ts";
import {
  disableWebhookEndpoint,
  getWebhookEndpoint,
  getWebhookMessage,
  recordWebhookAttempt,
  setWebhookMessageStatus,
  tenantDb,
  type WebhookEndpointRow,
  type WebhookMessageRow,
} from "../store/index.ts";
import { enqueueRetry, isDeliveryTask, retryDelays, type DeliveryTask } from "./queue.ts";

export const TIMEOUT_MS = 15_000;
export const FAILING_DISABLE_MS = 5 * DAY_MS;

export type ErrorClass = "http_status" | "redirect" | "timeout" | "network" | "gone" | "url_refused";

/** The additional data a stored secret is sealed with: it opens for this endpoint only. */
export function secretContext(tenantId: string, endpointId: string, which: "current" | "previous"): string {
  return `webhook/${tenantId}/${endpointId}/${which}`;
}

export async function consumeWebhooks(batch: MessageBatch, env: Env): Promise<void> {
  await Promise.all(
    batch.messages.map(async (message) => {
      if (!isDeliveryTask(message.body)) {
        console.error("webhook queue: dropped a message of the wrong shape", message.id);
        message.ack();
        return;
      }
      try {
        await attempt(env, message.body);
        message.ack();
      } catch (error) {
        console.error("webhook delivery failed to run", error instanceof Error ? error.name : "unknown");
        message.retry({ delaySeconds: Math.min(300, 2 ** message.attempts) });
      }
    }),
  );
}

async function secretsOf(env: Env, tenantId: string, e: WebhookEndpointRow, now: number): Promise<string[]> {
  const ring = dataKeyring(env.DATA_KEYS);
  const current = await open(ring, e.secret, secretContext(tenantId, e.id, "current"));
  const overlapping = e.previous_secret !== null && e.previous_until !== null && now < e.previous_until;
  if (!overlapping || e.previous_secret === null) return [current];
  return [current, await open(ring, e.previous_secret, secretContext(tenantId, e.id, "previous"))];
}

type Answer = { status: number | null; error: ErrorClass | null; latencyMs: number };

async function post(env: Env, tenantId: string, e: WebhookEndpointRow, m: WebhookMessageRow): Promise<Answer> {
  const now = Date.now();
  // Checked again at every attempt: the rules may have changed since the URL was saved.
  if (checkWebhookUrl(e.url, { allowLoopback: env.ALLOW_LOOPBACK_UPSTREAMS === "true" })) {
    return { status: null, error: "url_refused", latencyMs: 0 };
  }
  const headers = await webhookHeaders(await secretsOf(env, tenantId, e, now), m.id, Math.floor(now / 1000), m.payload);
  const started = Date.now();
  try {
    const res = await fetch(e.url, {
      method: "POST",
      headers: { ...headers, "content-type": "application/json", "user-agent": "Outlay-Webhooks/1" },
      body: m.payload,
      redirect: "manual",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    await res.body?.cancel();
    const latencyMs = Date.now() - started;
    if (res.status >= 200 && res.status < 300) return { status: res.status, error: null, latencyMs };
    if (res.status === 410) return { status: 410, error: "gone", latencyMs };
    const error = res.status >= 300 && res.status < 400 ? "redirect" : "http_status";
    return { status: res.status, error, latencyMs };
  } catch (error) {
    const name = error instanceof Error ? error.name : "";
    const timedOut = name === "TimeoutError" || name === "AbortError";
    return { status: null, error: timedOut ? "timeout" : "network", latencyMs: Date.now() - started };
  }
}

async function attempt(env: Env, task: DeliveryTask): Promise<void> {
  const db = tenantDb(env.DB, task.tenantId);
  const message = await getWebhookMessage(db, task.messageId);
  if (!message || message.status !== "pending") return;
  const endpoint = await getWebhookEndpoint(db, message.endpoint_id);
  if (!endpoint) return;
  // Not sent while disabled: kept as failed, so recover sends it once the endpoint is enabled.
  if (endpoint.disabled_at !== null) return setWebhookMessageStatus(db, message.id, "failed");
  const answer = await post(env, task.tenantId, endpoint, message);
  const now = Date.now();
  const delays = retryDelays(env);
  const failingTooLong = answer.error !== null && now - (endpoint.failing_since ?? now) >= FAILING_DISABLE_MS;
  const disableFor = answer.error === "gone" ? "gone" : failingTooLong ? "failing" : null;
  const retry = answer.error !== null && disableFor === null && task.round < delays.length;
  const status = answer.error === null ? "delivered" : retry ? "pending" : "failed";
  await recordWebhookAttempt(db, attemptRow(message, now, answer), status);
  if (disableFor) await disable(env, task.tenantId, endpoint, disableFor, now);
  else if (retry) await enqueueRetry(env, { ...task, round: task.round + 1 }, delays[task.round] ?? 0);
}

function attemptRow(m: WebhookMessageRow, at: number, a: Answer) {
  return {
    message_id: m.id,
    endpoint_id: m.endpoint_id,
    attempt: m.attempts + 1,
    at,
    status_code: a.status,
    latency_ms: a.latencyMs,
    error_class: a.error,
  };
}

async function disable(env: Env, tenantId: string, e: WebhookEndpointRow, reason: "gone" | "failing", now: number) {
  if (!(await disableWebhookEndpoint(tenantDb(env.DB, tenantId), e.id, reason, now))) return;
  await ledgerFor(env, tenantId).recordAudit({
    tenantId,
    drafts: [
      {
        at: now,
        type: "webhook.disabled",
        actor: SYSTEM,
        requestId: null,
        subject: e.id,
        data: { reason, failingSince: e.failing_since },
      },
    ],
  });
}
