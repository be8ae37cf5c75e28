// Provisions Outlay for the benchmark through its own HTTP routes, as test/helpers.ts does:
// a tenant and an admin token (operator token), the openai provider pointed at the mock
// upstream, and one proxy key. Returns the proxy key (olk_...).
import { newId } from "../../shared/ids.ts";

/** One JSON call to Outlay's API; the parsed body of a 200 or 201, else an error. */
export async function apiCall(url: string, method: string, token: string, body?: unknown): Promise<unknown> {
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (res.status !== 200 && res.status !== 201) throw new Error(`${method} ${url}: ${res.status} ${text}`);
  return JSON.parse(text) as unknown;
}

export function stringField(value: unknown, field: string): string {
  if (typeof value === "object" && value !== null && field in value) {
    const found = (value as Record<string, unknown>)[field];
    if (typeof found === "string") return found;
  }
  throw new Error(`response has no string field "${field}": ${JSON.stringify(value)}`);
}

export type OutlayTenant = { proxyKey: string; adminToken: string };

export async function provisionOutlay(
  base: string,
  operatorToken: string,
  upstream: string,
  name = "Benchmark",
): Promise<OutlayTenant> {
  const tenantId = newId();
  await apiCall(`${base}/internal/v1/tenants/${tenantId}`, "PUT", operatorToken, { name });
  const adminToken = stringField(
    await apiCall(`${base}/internal/v1/tenants/${tenantId}/admin-tokens`, "POST", operatorToken, { name: "bench" }),
    "token",
  );
  await apiCall(`${base}/api/v1/providers/openai`, "PUT", adminToken, {
    api_key: "demo-openai-credential-0000",
    base_url: `${upstream}/openai/v1`,
  });
  const proxyKey = stringField(await apiCall(`${base}/api/v1/keys`, "POST", adminToken, { name: "bench key" }), "key");
  return { proxyKey, adminToken };
}

/** Requests the usage totals count (events the queue consumer wrote to D1), via the Worker's API. */
export async function recordedRequests(base: string, adminToken: string): Promise<number> {
  const res = await fetch(`${base}/api/v1/usage`, {
    headers: { authorization: `Bearer ${adminToken}` },
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET /api/v1/usage: ${res.status} ${text}`);
  const body = JSON.parse(text) as { rows?: Array<{ requests?: unknown }> };
  const requests = body.rows?.[0]?.requests;
  return typeof requests === "number" ? requests : 0;
}
