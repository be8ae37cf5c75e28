// Test helpers: a fresh tenant with an admin token, providers pointed at the demo upstream and
// a proxy key, all made through the Worker's own routes; polling D1 for queued usage events and
// for any other condition (waitFor); a per-test view of the demo upstream's traffic.
import { env, exports } from "cloudflare:workers";
import { newId } from "../shared/ids.ts";
import type { UsageEvent } from "../shared/usage.ts";
import { type AuditRow, auditEventsAfter, tenantDb, usageEventsPage } from "../workers/store/index.ts";

export const BASE = "http://outlay.test";

export function worker(path: string, init?: RequestInit): Promise<Response> {
  return exports.default.fetch(new Request(`${BASE}${path}`, init));
}

/** fetch for SDK clients: every request goes to the Worker under test. */
export const workerFetch: typeof fetch = (input, init) => exports.default.fetch(new Request(input, init));

export type Tenant = {
  tenantId: string;
  adminToken: string;
  proxyKey: string;
  keyId: string;
  api: (path: string, init?: RequestInit & { json?: unknown }) => Promise<Response>;
};

/** A /api/v1 call with an admin token; `json` becomes the body. */
export function apiCall(token: string, path: string, init: RequestInit & { json?: unknown } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${token}`);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("content-type", "application/json");
    body = JSON.stringify(init.json);
  }
  return worker(`/api/v1${path}`, { ...init, headers, body });
}

export async function operator(path: string, method: string, body: unknown): Promise<Response> {
  return worker(`/internal/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${env.OPERATOR_TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

export async function newTenant(
  options: { providers?: boolean; keyDimensions?: Record<string, string> } = {},
): Promise<Tenant> {
  const tenantId = newId();
  const created = await operator(`/tenants/${tenantId}`, "PUT", { name: `Test ${tenantId}` });
  if (created.status !== 200) throw new Error(`tenant: ${created.status}`);
  const tokenRes = await operator(`/tenants/${tenantId}/admin-tokens`, "POST", { name: "tests" });
  const { token } = (await tokenRes.json()) as { token: string };
  const api = (path: string, init: RequestInit & { json?: unknown } = {}) => apiCall(token, path, init);
  if (options.providers !== false) {
    for (const [name, path] of [
      ["openai", "/openai/v1"],
      ["anthropic", "/anthropic/v1"],
      ["google", "/google"],
    ] as const) {
      const res = await api(`/providers/${name}`, {
        method: "PUT",
        json: { api_key: `demo-${name}-credential-0000`, base_url: `${env.UPSTREAM_URL}${path}` },
      });
      if (res.status !== 200) throw new Error(`provider ${name}: ${res.status} ${await res.text()}`);
    }
  }
  const keyRes = await api("/keys", { method: "POST", json: { name: "test key", dimensions: options.keyDimensions } });
  const key = (await keyRes.json()) as { key: string; id: string };
  return { tenantId, adminToken: token, proxyKey: key.key, keyId: key.id, api };
}

export type EventRow = Record<string, unknown> & {
  request_id: string;
  outcome: string;
  input_tokens: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  cost_nano_usd: number | null;
  usage_source: string;
  status: number;
  dimensions: string;
};

/** A stored usage event as the row it was before packs (migration 0012): the tests' view of it. */
function rowOf(e: UsageEvent): EventRow {
  return {
    request_id: e.requestId,
    key_id: e.keyId,
    provider: e.provider,
    model: e.model,
    endpoint: e.endpoint,
    stream: e.stream ? 1 : 0,
    status: e.status,
    outcome: e.outcome,
    input_tokens: e.usage.inputTokens,
    cached_input_tokens: e.usage.cachedInputTokens,
    cache_write_tokens: e.usage.cacheWriteTokens,
    output_tokens: e.usage.outputTokens,
    reasoning_tokens: e.usage.reasoningTokens,
    usage_source: e.usageSource,
    cost_nano_usd: e.costNanoUsd,
    unpriced: e.costNanoUsd === null ? 1 : 0,
    price: e.price ? JSON.stringify(e.price) : null,
    started_at: e.startedAt,
    first_byte_ms: e.firstByteMs,
    total_ms: e.totalMs,
    dimensions: JSON.stringify(e.dimensions),
  };
}

/** The tenant's stored usage events, oldest first (every copy, were one ever stored twice). */
export async function eventsOf(tenantId: string): Promise<EventRow[]> {
  const events = await usageEventsPage(tenantDb(env.DB, tenantId), { order: "asc", cursor: null, limit: 1_000_000 });
  return events.map(rowOf);
}

/** The tenant's audit index, oldest first: audit_events and the call.admitted runs merged by seq. */
export async function auditRowsOf(tenantId: string): Promise<AuditRow[]> {
  return auditEventsAfter(tenantDb(env.DB, tenantId), { after: 0, type: null, limit: 1_000_000 });
}

/** Waits until the usage event of a request is in D1 (the queue consumer runs asynchronously). */
export async function waitForEvent(tenantId: string, requestId: string, timeoutMs = 10_000): Promise<EventRow> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const row = (await eventsOf(tenantId)).find((r) => r.request_id === requestId);
    if (row) return row;
    if (Date.now() > until) throw new Error(`no usage event for ${requestId}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function waitForEventCount(tenantId: string, count: number, timeoutMs = 10_000): Promise<EventRow[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const rows = await eventsOf(tenantId);
    if (rows.length >= count) return rows;
    if (Date.now() > until) throw new Error(`expected ${count} events for ${tenantId}, found ${rows.length}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export type UpstreamRecord = {
  id: string;
  provider: string;
  method: string;
  path: string;
  model: string | null;
  stream: boolean;
  scenario: string | null;
  status: number;
  usage: Record<string, unknown> | null;
  completed: boolean;
  outputChunks: number;
  keyPresent: boolean;
  headers: Record<string, string>;
  headerNames: string[];
  queryNames: string[];
};

/** The header that files a request under a test id in the demo upstream's log (the gateway
 * forwards it like any `x-*` header). */
export const TEST_ID_HEADER = "x-test-id";

/** A fresh test id: send `headers` with a call, then read that call's upstream traffic. */
export function testTag(): { id: string; headers: Record<string, string> } {
  const id = `t-${crypto.randomUUID()}`;
  return { id, headers: { [TEST_ID_HEADER]: id } };
}

/** What the demo upstream received with this test id, oldest first: a per-test view that other
 * tests' traffic can neither fill nor push out (demo/upstream/request-log.ts). */
export async function upstreamCalls(testId: string): Promise<UpstreamRecord[]> {
  const res = await fetch(`${env.UPSTREAM_URL}/_demo/requests?test_id=${encodeURIComponent(testId)}`);
  if (res.status !== 200) throw new Error(`demo upstream log: ${res.status}`);
  return ((await res.json()) as { requests: UpstreamRecord[] }).requests;
}
