// Shared steps of the ledger tests: budgets made through the API, calls through the gateway,
// money read back as bigint nano-USD.
import { expect } from "vitest";
import { parseDecimal } from "../../shared/money.ts";
import type { UsageEvent } from "../../shared/usage.ts";
import { worker, type Tenant } from "../helpers.ts";

export type BudgetView = {
  id: string;
  current: { spent_usd: string; held_usd: string; remaining_usd: string; window_start: string | null };
};

export const nano = (usd: string): bigint => {
  const value = parseDecimal(usd.replace(/^-/, ""));
  if (value === null) throw new Error(`not a decimal: ${usd}`);
  return usd.startsWith("-") ? -value : value;
};

export const usdOf = (nanoUsd: bigint): string => {
  const negative = nanoUsd < 0n;
  const abs = negative ? -nanoUsd : nanoUsd;
  return `${negative ? "-" : ""}${abs / 1_000_000_000n}.${(abs % 1_000_000_000n).toString().padStart(9, "0")}`;
};

export async function createBudget(tenant: Tenant, body: Record<string, unknown>): Promise<string> {
  const res = await tenant.api("/budgets", {
    method: "POST",
    json: { name: "test budget", window: "monthly", ...body },
  });
  const json = (await res.json()) as { id: string };
  if (res.status !== 201) throw new Error(`budget not created: ${res.status} ${JSON.stringify(json)}`);
  return json.id;
}

export async function budgetStatus(tenant: Tenant, id: string): Promise<BudgetView["current"]> {
  const res = await tenant.api(`/budgets/${id}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as BudgetView).current;
}

/** Polls a budget until nothing is held (every admitted call settled). */
export async function settledStatus(tenant: Tenant, id: string, timeoutMs = 15_000): Promise<BudgetView["current"]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const status = await budgetStatus(tenant, id);
    if (nano(status.held_usd) === 0n) return status;
    if (Date.now() > until) throw new Error(`budget ${id} still holds ${status.held_usd}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export type ChatOptions = {
  model?: string;
  maxTokens?: number | null;
  stream?: boolean;
  headers?: Record<string, string>;
  content?: string;
  signal?: AbortSignal;
};

export function chat(tenant: Tenant, options: ChatOptions = {}): Promise<Response> {
  const body: Record<string, unknown> = {
    model: options.model ?? "gpt-4o-mini",
    messages: [{ role: "user", content: options.content ?? "Say hello." }],
  };
  if (options.maxTokens !== null) body.max_tokens = options.maxTokens ?? 100;
  if (options.stream) body.stream = true;
  return worker("/openai/v1/chat/completions", {
    method: "POST",
    headers: { authorization: `Bearer ${tenant.proxyKey}`, "content-type": "application/json", ...options.headers },
    body: JSON.stringify(body),
    signal: options.signal,
  });
}

export async function auditEvents(
  tenant: Tenant,
  type: string,
): Promise<{ subject: string; data: Record<string, unknown> }[]> {
  const res = await tenant.api(`/audit?type=${type}&limit=500`);
  return ((await res.json()) as { events: { subject: string; data: Record<string, unknown> }[] }).events;
}

export async function waitFor<T>(probe: () => Promise<T | null>, what: string, timeoutMs = 15_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Waits until an audit event made now (a key created through the API) is stored: the ledger
 * numbers its audit events and sends them in order, so every event it made before is stored
 * too. "Nothing more arrived" is then read at that point, not after a fixed wait.
 */
export async function untilLaterAudit(tenant: Tenant): Promise<void> {
  const res = await tenant.api("/keys", { method: "POST", json: { name: "later audit event" } });
  expect(res.status).toBe(201);
  const { id } = (await res.json()) as { id: string };
  await waitFor(async () => {
    const created = await auditEvents(tenant, "key.created");
    return created.some((e) => e.subject === id) ? true : null;
  }, "a later audit event");
}

/** A usage event of a finished OpenAI call of the tenant's key, as the gateway would send it. */
export function usageEvent(
  tenant: Tenant,
  fields: Partial<UsageEvent> & Pick<UsageEvent, "startedAt" | "costNanoUsd">,
): UsageEvent {
  return {
    v: 1,
    requestId: `req_${crypto.randomUUID().replaceAll("-", "").slice(0, 21)}`,
    tenantId: tenant.tenantId,
    keyId: tenant.keyId,
    provider: "openai",
    model: "gpt-4o-mini",
    endpoint: "chat.completions",
    stream: false,
    status: 200,
    outcome: "ok",
    usage: { inputTokens: 1, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 1, reasoningTokens: 0 },
    usageSource: "provider",
    price: null,
    firstByteMs: 1,
    totalMs: 1,
    dimensions: {},
    ...fields,
  };
}
