// Invariant: no D1 query on the hot path. The Worker is handed an env whose DB throws on any
// use; proxied calls of every format, streamed or not, must still succeed and be metered.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../workers/index.ts";
import { BASE, newTenant, waitForEvent, type Tenant } from "../helpers.ts";

const poisonedDb = new Proxy({} as D1Database, {
  get() {
    throw new Error("D1 was used on the hot path");
  },
});

let tenant: Tenant;
beforeAll(async () => {
  tenant = await newTenant();
});

async function call(path: string, headers: Record<string, string>, body: unknown, bindings: Partial<Env> = {}) {
  const ctx = createExecutionContext();
  const res = await worker.fetch(
    new Request(`${BASE}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    }),
    { ...env, DB: poisonedDb, ...bindings },
    ctx,
  );
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return { res, text };
}

describe("hot path", () => {
  const auth = () => ({ authorization: `Bearer ${tenant.proxyKey}` });
  const cases: [string, string, () => Record<string, string>, unknown][] = [
    [
      "OpenAI JSON",
      "/openai/v1/chat/completions",
      auth,
      { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] },
    ],
    [
      "OpenAI SSE",
      "/openai/v1/chat/completions",
      auth,
      { model: "gpt-4o-mini", stream: true, messages: [{ role: "user", content: "hi" }] },
    ],
    [
      "Anthropic SSE",
      "/anthropic/v1/messages",
      () => ({ "x-api-key": tenant.proxyKey, "anthropic-version": "2023-06-01" }),
      { model: "claude-3-5-haiku-latest", max_tokens: 30, stream: true, messages: [{ role: "user", content: "hi" }] },
    ],
    [
      "Gemini JSON",
      "/google/v1beta/models/gemini-2.5-flash:generateContent",
      () => ({ "x-goog-api-key": tenant.proxyKey }),
      { contents: [{ role: "user", parts: [{ text: "hi" }] }] },
    ],
  ];
  for (const [name, path, headers, body] of cases) {
    it(`serves and meters ${name} without touching D1`, async () => {
      const { res } = await call(path, headers(), body);
      expect(res.status).toBe(200);
      const event = await waitForEvent(tenant.tenantId, res.headers.get("x-outlay-request-id") ?? "");
      expect(event.outcome).toBe("ok");
      expect(event.output_tokens).toBeGreaterThan(0);
    });
  }

  it("fails closed with 503 in the provider's shape when the ledger cannot answer", async () => {
    const brokenLedger = {
      idFromName: (name: string) => env.TENANT_LEDGER.idFromName(name),
      get: () => {
        throw new Error("ledger down");
      },
    } as unknown as Env["TENANT_LEDGER"];
    const { res, text } = await call(
      "/openai/v1/chat/completions",
      auth(),
      { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] },
      { TENANT_LEDGER: brokenLedger },
    );
    expect(res.status).toBe(503);
    expect(res.headers.get("x-outlay-refusal")).toBe("ledger_unavailable");
    expect((JSON.parse(text) as { error: { code: string } }).error.code).toBe("ledger_unavailable");
  });
});
