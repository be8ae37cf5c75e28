// Handing messages to WEBHOOK_QUEUE: one queue message per attempt, `{ tenantId, messageId, round }`
// where `round` is the attempt's place in the retry schedule (0: at once). A message is handed
// over once (enqueued_at); a redelivered audit batch finds it already queued.
import { markWebhookMessagesQueued, unqueuedWebhookMessages, type TenantDb } from "../store/index.ts";

export type DeliveryTask = { tenantId: string; messageId: string; round: number };

/** Seconds to wait before each attempt after the first: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h
 * (eight attempts in all). WEBHOOK_RETRY_DELAYS may shorten them (the tests do). */
const RETRY_DELAYS_S = [5, 300, 1800, 7200, 18000, 36000, 36000] as const;

export function retryDelays(env: Env): readonly number[] {
  const configured = (env.WEBHOOK_RETRY_DELAYS ?? "").split(",").map((s) => Number(s.trim()));
  const valid = configured.length > 0 && configured.every((n) => Number.isInteger(n) && n >= 0 && n <= 43_200);
  return valid && env.WEBHOOK_RETRY_DELAYS ? configured : RETRY_DELAYS_S;
}

export function isDeliveryTask(body: unknown): body is DeliveryTask {
  if (typeof body !== "object" || body === null) return false;
  const t = body as Partial<DeliveryTask>;
  return typeof t.tenantId === "string" && typeof t.messageId === "string" && Number.isInteger(t.round);
}

/** Each message's first attempt. */
function firstAttempts(tenantId: string, ids: string[]): DeliveryTask[] {
  return ids.map((messageId) => ({ tenantId, messageId, round: 0 }));
}

/** Queues the first attempt of each message not queued yet. */
export async function enqueueNew(env: Env, db: TenantDb, ids: string[], now: number): Promise<void> {
  const fresh = (await unqueuedWebhookMessages(db, ids)).map((r) => r.id);
  await sendTasks(env, firstAttempts(db.tenantId, fresh));
  await markWebhookMessagesQueued(db, fresh, now);
}

/** Queues messages (again) from the schedule's first attempt: recover, replay, a test. */
export function enqueueAgain(env: Env, tenantId: string, ids: string[]): Promise<void> {
  return sendTasks(env, firstAttempts(tenantId, ids));
}

/** Sends tasks to the queue (each with its round), all after the same delay. */
export async function sendTasks(env: Env, tasks: DeliveryTask[], delaySeconds = 0): Promise<void> {
  for (let i = 0; i < tasks.length; i += 100) {
    await env.WEBHOOK_QUEUE.sendBatch(
      tasks.slice(i, i + 100).map((body) => ({ body })),
      { delaySeconds },
    );
  }
}
