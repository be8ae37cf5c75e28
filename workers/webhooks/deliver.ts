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
import { webhookHeaders, webhookKey } from "../../shared/standard-webhooks.ts";
import { ledgerFor } from "../ledger/index.ts";
import {
  disableWebhookEndpoint,
  failWebhookMessages,
  getWebhookEndpoints,
  getWebhookMessages,
  recordWebhookAttempts,
  tenantDb,
  type WebhookAttemptRow,
  type WebhookEndpointRow,
  type WebhookMessageRow,
} from "../store/index.ts";
import { sendTasks, isDeliveryTask, retryDelays, type DeliveryTask } from "./queue.ts";

const TIMEOUT_MS = 15_000;
/** At most this many attempts of one batch in flight at once (a receiver is not flooded). */
const IN_FLIGHT = 20;
const FAILING_DISABLE_MS = 5 * DAY_MS;

type ErrorClass = "http_status" | "redirect" | "timeout" | "network" | "gone" | "url_refused";

/** The additional data a stored secret is sealed with: it opens for this endpoint only. */
export function secretContext(tenantId: string, endpointId: string, which: "current" | "previous"): string {
  return `webhook/${tenantId}/${endpointId}/${which}`;
}

/** A batch of tasks, each tenant's together: its messages and their endpoints read in one query
 * each, every attempt made concurrently, all of them logged in one D1 batch, the retries queued
 * by delay. If any step cannot run (D1 down), the tenant's tasks are retried by the queue. */
export async function consumeWebhooks(batch: MessageBatch, env: Env): Promise<void> {
  const byTenant = new Map<string, { task: DeliveryTask; message: Message }[]>();
  for (const message of batch.messages) {
    if (!isDeliveryTask(message.body)) {
      console.error("webhook queue: dropped a message of the wrong shape", message.id);
      message.ack();
      continue;
    }
    const group = byTenant.get(message.body.tenantId) ?? [];
    group.push({ task: message.body, message });
    byTenant.set(message.body.tenantId, group);
  }
  await Promise.all(
    [...byTenant].map(async ([tenantId, group]) => {
      try {
        await deliverAll(
          env,
          tenantId,
          group.map((g) => g.task),
        );
        for (const g of group) g.message.ack();
      } catch (error) {
        console.error("webhook delivery failed to run", error instanceof Error ? error.name : "unknown");
        for (const g of group) g.message.retry({ delaySeconds: Math.min(300, 2 ** g.message.attempts) });
      }
    }),
  );
}

/** The HMAC keys of opened secrets, by their sealed text (so a rotated secret is a new entry). */
const keys = new Map<string, Promise<CryptoKey>>();

function keyOf(env: Env, tenantId: string, endpointId: string, which: "current" | "previous", sealed: string) {
  let key = keys.get(sealed);
  if (!key) {
    if (keys.size >= 1000) keys.clear();
    key = open(dataKeyring(env.DATA_KEYS), sealed, secretContext(tenantId, endpointId, which)).then(webhookKey);
    // A key that failed to open is not kept.
    key.catch(() => keys.delete(sealed));
    keys.set(sealed, key);
  }
  return key;
}

/** The current secret's key, and the previous one's while a rotation overlaps. */
function signingKeys(env: Env, tenantId: string, e: WebhookEndpointRow, now: number): Promise<CryptoKey[]> {
  const overlapping = e.previous_until !== null && now < e.previous_until;
  const sealed = [
    ["current", e.secret] as const,
    ...(overlapping && e.previous_secret ? [["previous", e.previous_secret] as const] : []),
  ];
  return Promise.all(sealed.map(([which, text]) => keyOf(env, tenantId, e.id, which, text)));
}

type Answer = { status: number | null; error: ErrorClass | null; latencyMs: number };

/** URLs that passed the rules in this isolate (the rules are code: they change with a deploy,
 * which starts new isolates), so a busy endpoint's URL is parsed and checked once. */
const passed = new Set<string>();

function urlAllowed(env: Env, url: string): boolean {
  const loopback = env.ALLOW_LOOPBACK_UPSTREAMS === "true";
  const memo = `${loopback ? "l" : "p"} ${url}`;
  if (passed.has(memo)) return true;
  if (checkWebhookUrl(url, { allowLoopback: loopback })) return false;
  if (passed.size >= 1000) passed.clear();
  passed.add(memo);
  return true;
}

async function post(env: Env, tenantId: string, e: WebhookEndpointRow, m: WebhookMessageRow): Promise<Answer> {
  const now = Date.now();
  // Checked again before sending: the rules may have changed since the URL was saved.
  if (!urlAllowed(env, e.url)) return { status: null, error: "url_refused", latencyMs: 0 };
  const headers = await webhookHeaders(
    await signingKeys(env, tenantId, e, now),
    m.id,
    Math.floor(now / 1000),
    m.payload,
  );
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

type Outcome = {
  task: DeliveryTask;
  endpoint: WebhookEndpointRow;
  attempt: WebhookAttemptRow;
  status: WebhookMessageRow["status"];
  disableFor: "gone" | "failing" | null;
  retryIn: number | null;
};

async function deliverAll(env: Env, tenantId: string, tasks: DeliveryTask[]): Promise<void> {
  const db = tenantDb(env.DB, tenantId);
  const messages = new Map(
    (
      await getWebhookMessages(
        db,
        tasks.map((t) => t.messageId),
      )
    ).map((m) => [m.id, m]),
  );
  const endpointIds = [...new Set([...messages.values()].map((m) => m.endpoint_id))];
  const endpoints = new Map((await getWebhookEndpoints(db, endpointIds)).map((e) => [e.id, e]));
  const delays = retryDelays(env);
  const parked: string[] = [];
  const outcomes: Outcome[] = [];
  await inParallel(tasks, IN_FLIGHT, async (task) => {
    const message = messages.get(task.messageId);
    const endpoint = message && endpoints.get(message.endpoint_id);
    if (!message || message.status !== "pending" || !endpoint) return;
    // Not sent while disabled: kept as failed, so that recover sends it once enabled again.
    if (endpoint.disabled_at !== null) {
      parked.push(message.id);
      return;
    }
    const answer = await post(env, tenantId, endpoint, message);
    const now = Date.now();
    const failingTooLong = answer.error !== null && now - (endpoint.failing_since ?? now) >= FAILING_DISABLE_MS;
    const disableFor = answer.error === "gone" ? "gone" : failingTooLong ? "failing" : null;
    const retry = answer.error !== null && disableFor === null && task.round < delays.length;
    outcomes.push({
      task,
      endpoint,
      attempt: attemptRow(message, now, answer),
      status: answer.error === null ? "delivered" : retry ? "pending" : "failed",
      disableFor,
      retryIn: retry ? (delays[task.round] ?? 0) : null,
    });
  });
  await failWebhookMessages(db, parked);
  await recordWebhookAttempts(db, outcomes);
  for (const o of outcomes) if (o.disableFor) await disable(env, tenantId, o.endpoint, o.disableFor, o.attempt.at);
  const retries = new Map<number, DeliveryTask[]>();
  for (const o of outcomes) {
    if (o.retryIn !== null)
      retries.set(o.retryIn, [...(retries.get(o.retryIn) ?? []), { ...o.task, round: o.task.round + 1 }]);
  }
  for (const [delay, next] of retries) await sendTasks(env, next, delay);
}

function attemptRow(m: WebhookMessageRow, at: number, a: Answer): WebhookAttemptRow {
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

/** Runs `work` on every item, at most `limit` at a time. */
async function inParallel<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}
