// The dashboard benchmark's organisation, made through Outlay's own HTTP routes: the tenant and
// an admin token (operator API), four providers, the plan's 200 keys with their bound
// dimensions, budgets, a policy and a rate limit, a person who signs in; then a few thousand
// calls through the gateway that the policy, the rate limit and a budget refuse, so the
// call.refused audit events and their usage events are the ledger's own. Also the sign-in.
import { newId } from "../../shared/ids.ts";
import type { DataPlan } from "./dashboard-data.ts";
import { apiCall, stringField } from "./outlay-setup.ts";

export type BenchOrg = {
  tenantId: string;
  adminToken: string;
  keyIds: string[];
  user: { email: string; password: string };
};

/** Providers point at a closed loopback port: no call of this bench reaches an upstream. */
const NOWHERE = "http://127.0.0.1:9";

export async function provisionDashboard(
  base: string,
  operatorToken: string,
  plan: DataPlan,
  log: (line: string) => void,
): Promise<{ org: BenchOrg; proxyKeys: string[] }> {
  const tenantId = newId();
  await apiCall(`${base}/internal/v1/tenants/${tenantId}`, "PUT", operatorToken, { name: "Acme Analytics" });
  const adminToken = stringField(
    await apiCall(`${base}/internal/v1/tenants/${tenantId}/admin-tokens`, "POST", operatorToken, { name: "bench" }),
    "token",
  );
  const api = (path: string, method: string, body?: unknown) =>
    apiCall(`${base}/api/v1${path}`, method, adminToken, body);
  for (const provider of ["openai", "anthropic", "google", "mistral"]) {
    await api(`/providers/${provider}`, "PUT", { api_key: `bench-${provider}-credential-0000`, base_url: NOWHERE });
  }
  const keyIds: string[] = [];
  const proxyKeys: string[] = [];
  for (const key of plan.keys) {
    const made = await api("/keys", "POST", { name: key.name, dimensions: key.dimensions });
    keyIds.push(stringField(made, "id"));
    proxyKeys.push(stringField(made, "key"));
  }
  log(`organisation ${tenantId}: 4 providers, ${keyIds.length} keys`);
  const user = { email: `owner-${tenantId}@bench.example`, password: `bench-${newId()}-${newId()}` };
  await apiCall(`${base}/internal/v1/tenants/${tenantId}/members`, "PUT", operatorToken, {
    ...user,
    name: "Bench Owner",
    role: "owner",
  });
  return { org: { tenantId, adminToken, keyIds, user }, proxyKeys };
}

/** Budgets that matter on the overview, and the three rules that refuse the bench's calls. */
export async function addRules(
  base: string,
  org: BenchOrg,
): Promise<{ budgetKey: number; rateLimitedKey: number; deniedModel: string }> {
  const api = (path: string, body: unknown) => apiCall(`${base}/api/v1${path}`, "POST", org.adminToken, body);
  const budgetKey = 7;
  const rateLimitedKey = 11;
  const keyId = (i: number) => org.keyIds[i] ?? "";
  await api("/budgets", { name: "Organisation, monthly", window: "monthly", limit_usd: "10000", mode: "alert" });
  await api("/budgets", {
    name: "Search team, monthly",
    scope: { dimensions: { team: "search" } },
    window: "monthly",
    limit_usd: "2000",
    mode: "block",
  });
  await api("/budgets", { name: "Daily cap", window: "daily", limit_usd: "500", mode: "block" });
  await api("/budgets", {
    name: "Sandbox key",
    scope: { key_id: keyId(budgetKey) },
    window: "monthly",
    limit_usd: "0.000001",
    mode: "block",
  });
  await api("/policies", { name: "No legacy models", deny_models: ["gpt-3.5*"] });
  await api("/rate-limits", { name: "Batch importer", key_id: keyId(rateLimitedKey), tokens_per_minute: 1 });
  return { budgetKey, rateLimitedKey, deniedModel: "gpt-3.5-turbo" };
}

/**
 * `count` calls through the gateway, 8 at a time, each refused before any upstream: 60% ask for
 * the denied model (policy), 25% use the key with the tiny budget, 15% the rate-limited key.
 * Returns how many were answered with a refusal (403, 402 or 429).
 */
export async function refusedCalls(
  base: string,
  proxyKeys: readonly string[],
  rules: { budgetKey: number; rateLimitedKey: number; deniedModel: string },
  count: number,
): Promise<{ refused: number; byStatus: Record<string, number> }> {
  const byStatus: Record<string, number> = {};
  let next = 0;
  const one = async (i: number): Promise<void> => {
    const kind = i % 20 < 12 ? "policy" : i % 20 < 17 ? "budget" : "rate";
    const key =
      kind === "policy"
        ? proxyKeys[(i * 7) % 40]
        : kind === "budget"
          ? proxyKeys[rules.budgetKey]
          : proxyKeys[rules.rateLimitedKey];
    const res = await fetch(`${base}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key ?? ""}`, "content-type": "application/json" },
      body: JSON.stringify({
        model: kind === "policy" ? rules.deniedModel : "gpt-4o",
        messages: [{ role: "user", content: "Summarise the attached report in three bullet points." }],
        max_tokens: 256,
      }),
      signal: AbortSignal.timeout(30_000),
    });
    await res.arrayBuffer();
    byStatus[res.status] = (byStatus[res.status] ?? 0) + 1;
  };
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next;
      next += 1;
      await one(i);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const refused = (byStatus["402"] ?? 0) + (byStatus["403"] ?? 0) + (byStatus["429"] ?? 0);
  return { refused, byStatus };
}

/** Signs in with the form as a browser does (Origin header); returns the session cookie. */
export async function signIn(base: string, user: { email: string; password: string }): Promise<string> {
  const res = await fetch(`${base}/login`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: base },
    body: new URLSearchParams({ email: user.email, password: user.password }).toString(),
    redirect: "manual",
    signal: AbortSignal.timeout(30_000),
  });
  await res.arrayBuffer();
  const cookie = res.headers
    .getSetCookie()
    .map((line) => line.split(";")[0] ?? "")
    .find((pair) => /^(__Host-)?outlay_session=./.test(pair));
  if (res.status !== 303 || !cookie) throw new Error(`sign-in failed: ${res.status} (no session cookie)`);
  return cookie;
}
