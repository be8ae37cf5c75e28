// Fail closed by default; fail-open only by a budget's explicit opt-in. The Worker is handed a
// ledger binding that throws, as when the tenant's Durable Object cannot be reached.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../workers/index.ts";
import { BASE, newTenant, testTag, upstreamCalls, waitForEvent, type Tenant } from "../helpers.ts";
import { createBudget, nano, settledStatus } from "./support.ts";

const brokenLedger = {
  idFromName: (name: string) => env.TENANT_LEDGER.idFromName(name),
  get: () => {
    throw new Error("ledger down");
  },
} as unknown as Env["TENANT_LEDGER"];

async function call(tenant: Tenant, broken: boolean, model = "gpt-4o-mini", key = tenant.proxyKey) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`${BASE}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ model, max_tokens: 50, messages: [{ role: "user", content: "hi" }] }),
    }),
    broken ? { ...env, TENANT_LEDGER: brokenLedger } : env,
    ctx,
  );
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return { res, text };
}

describe("when the ledger cannot answer", () => {
  it("refuses with 503 when no budget opted into fail-open", async () => {
    const tenant = await newTenant();
    await createBudget(tenant, { limit_usd: "10" });
    expect((await call(tenant, false)).res.status).toBe(200);
    const { res, text } = await call(tenant, true);
    expect(res.status).toBe(503);
    expect(res.headers.get("x-outlay-refusal")).toBe("ledger_unavailable");
    expect((JSON.parse(text) as { error: { type: string } }).error.type).toBe("server_error");
  });

  it("refuses with 503 when no budget covers the call at all", async () => {
    const tenant = await newTenant();
    expect((await call(tenant, false)).res.status).toBe(200);
    expect((await call(tenant, true)).res.status).toBe(503);
  });

  it("admits a call a fail-open budget covers, for a key and model admitted before, and books it later", async () => {
    const tenant = await newTenant();
    const budget = await createBudget(tenant, { limit_usd: "10", fail_open: true });
    const first = await call(tenant, false);
    expect(first.res.status).toBe(200);
    const open = await call(tenant, true);
    expect(open.res.status).toBe(200);
    expect(open.res.headers.get("x-outlay-admission")).toBe("fail-open");
    // Not remembered: another model, or a wrong secret for the same key id.
    expect((await call(tenant, true, "gpt-4o")).res.status).toBe(503);
    const forged = tenant.proxyKey.replace(/.$/, (last) => (last === "a" ? "b" : "a"));
    expect((await call(tenant, true, "gpt-4o-mini", forged)).res.status).toBe(503);
    // The usage consumer books the fail-open call once the ledger answers.
    const a = await waitForEvent(tenant.tenantId, first.res.headers.get("x-outlay-request-id") ?? "");
    const b = await waitForEvent(tenant.tenantId, open.res.headers.get("x-outlay-request-id") ?? "");
    const until = Date.now() + 10_000;
    const expected = BigInt(a.cost_nano_usd ?? 0) + BigInt(b.cost_nano_usd ?? 0);
    let spent = 0n;
    while (Date.now() < until) {
      spent = nano((await settledStatus(tenant, budget)).spent_usd);
      if (spent === expected) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(spent).toBe(expected);
  });

  it("forgets a key the ledger refused: revoked, then the ledger goes down, stays refused", async () => {
    const tenant = await newTenant();
    await createBudget(tenant, { limit_usd: "10", fail_open: true });
    expect((await call(tenant, false)).res.status).toBe(200);
    expect((await call(tenant, true)).res.status).toBe(200);
    expect((await tenant.api(`/keys/${tenant.keyId}/revoke`, { method: "POST" })).status).toBe(200);
    expect((await call(tenant, false)).res.status).toBe(401);
    const after = await call(tenant, true);
    expect(after.res.status).toBe(503);
    expect(after.res.headers.get("x-outlay-admission")).toBeNull();
  });

  it("a blocking budget without the opt-in keeps the call closed even beside a fail-open one", async () => {
    const tenant = await newTenant();
    await createBudget(tenant, { limit_usd: "10", fail_open: true });
    await createBudget(tenant, { limit_usd: "10", scope: { model: "gpt-4o*" } });
    expect((await call(tenant, false)).res.status).toBe(200);
    expect((await call(tenant, true)).res.status).toBe(503);
  });

  it("sends a fail-open call with its own output limit, not the one chosen for the remembered call", async () => {
    const tenant = await newTenant();
    await createBudget(tenant, { limit_usd: "10", fail_open: true });
    const send = async (broken: boolean, maxTokens: number) => {
      const tag = testTag();
      const ctx = createExecutionContext();
      const res = await worker.fetch(
        new Request(`${BASE}/openai/v1/chat/completions`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${tenant.proxyKey}`,
            "content-type": "application/json",
            ...tag.headers,
          },
          body: JSON.stringify({
            model: "gpt-4o-mini",
            max_tokens: maxTokens,
            messages: [{ role: "user", content: "hi" }],
          }),
        }),
        broken ? { ...env, TENANT_LEDGER: brokenLedger } : env,
        ctx,
      );
      await res.text();
      await waitOnExecutionContext(ctx);
      const upstream = (await upstreamCalls(tag.id))[0] as { limits?: Record<string, number> } | undefined;
      return { status: res.status, limits: upstream?.limits };
    };
    expect(await send(false, 20)).toEqual({ status: 200, limits: { max_tokens: 20 } });
    expect(await send(true, 300)).toEqual({ status: 200, limits: { max_tokens: 300 } });
  });
});
