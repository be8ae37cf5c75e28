// Hidden tokens under a blocking budget: a reasoning model bills tokens it never streams, so the
// gateway's draw-down cannot see them. A call that starts on what is left of a block budget (and
// any call a block budget covers without its own output limit) is sent with the output limit the
// budget buys, in each provider's own field, so the provider stops with its hidden tokens
// counted. Each case finds its own upstream request by a tag header (the log is shared).
//
// The tests run concurrently: each has its own tenants (budgets, policies, ledger, usage events)
// and its own upstream tags, so none can see another's state; most of their time is waiting for
// the usage queue's batches, which overlap when run together.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { keyHash } from "../../shared/crypto.ts";
import { priceCall } from "../../shared/pricing.ts";
import { NO_TOKENS } from "../../shared/usage.ts";
import type { AdmitRequest, AdmitResult } from "../../workers/ledger/types.ts";
import { newTenant, testTag, upstreamCalls, waitForEvent, worker, type EventRow, type Tenant } from "../helpers.ts";
import { createBudget, nano, settledStatus, waitFor } from "../ledger/support.ts";

type Json = Record<string, unknown>;
type Limits = Record<string, number | string>;

const HIDDEN = { "x-demo-reasoning-tokens": "400" };
const USER = [{ role: "user", content: "Think hard, then say hello." }];

/** The provider routes and auth headers of the three wire formats. */
const ROUTES = {
  chat: { path: "/openai/v1/chat/completions", auth: (k: string) => ({ authorization: `Bearer ${k}` }) },
  responses: { path: "/openai/v1/responses", auth: (k: string) => ({ authorization: `Bearer ${k}` }) },
  anthropic: {
    path: "/anthropic/v1/messages",
    auth: (k: string) => ({ "x-api-key": k, "anthropic-version": "2023-06-01" }),
  },
  gemini: {
    path: "/google/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
    auth: (k: string) => ({ "x-goog-api-key": k }),
  },
  geminiJson: {
    path: "/google/v1beta/models/gemini-2.5-flash:generateContent",
    auth: (k: string) => ({ "x-goog-api-key": k }),
  },
} as const;

type Sent = { res: Response; text: string; requestId: string; limits: Limits; event: EventRow | null };

/** One call through the gateway, read to the end; its upstream request's limit fields by tag. */
async function send(tenant: Tenant, route: keyof typeof ROUTES, body: Json, headers: Record<string, string> = {}) {
  const tag = testTag();
  const { path, auth } = ROUTES[route];
  const res = await worker(path, {
    method: "POST",
    headers: { ...auth(tenant.proxyKey), "content-type": "application/json", ...tag.headers, ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  const requestId = res.headers.get("x-outlay-request-id") ?? "";
  const upstream = (await upstreamCalls(tag.id))[0] as { limits?: Limits; usage: Json | null } | undefined;
  const event = res.status === 200 ? await waitForEvent(tenant.tenantId, requestId) : null;
  const sent: Sent = { res, text, requestId, limits: upstream?.limits ?? {}, event };
  return { ...sent, upstreamSeen: upstream !== undefined };
}

/** The largest output count `budget` buys after the prompt cost `input` (nano-USD) at `model`'s price. */
function outputFor(provider: string, model: string, inputTokens: number, budgetNano: bigint): number {
  const at = new Date();
  const cost = (output: number) =>
    BigInt(priceCall(provider, model, { ...NO_TOKENS, inputTokens, outputTokens: output }, [], at)?.costNanoUsd ?? -1);
  let n = 0;
  while (cost(n + 1) <= budgetNano) n += 1;
  return n;
}

/** A fresh tenant with one blocking budget; spent after every hold is settled. */
async function budgeted(limitUsd: string) {
  const tenant = await newTenant();
  const budget = await createBudget(tenant, { limit_usd: limitUsd });
  return { tenant, budget, spent: async () => nano((await settledStatus(tenant, budget)).spent_usd) };
}

describe.concurrent("a stream that starts on what is left of a block budget carries the limit the rest buys", () => {
  it("OpenAI chat, reasoning model, no limit of its own: max_completion_tokens, reasoning included", async () => {
    const limit = "0.0002";
    const { tenant, spent } = await budgeted(limit);
    const sent = await send(tenant, "chat", { model: "o4-mini", stream: true, messages: USER }, HIDDEN);
    expect(sent.res.status).toBe(200);
    // Booked at or under the limit: the prompt estimate (body bytes / 4) errs high here.
    expect(await spent()).toBeLessThanOrEqual(nano(limit));
    expect(sent.text).toContain("[DONE]");
    const cap = sent.limits.max_completion_tokens;
    expect(typeof cap).toBe("number");
    expect(sent.limits.max_tokens).toBeUndefined();
    // What the budget buys after a prompt of at most this many tokens (the estimate errs high).
    expect(cap).toBeLessThanOrEqual(outputFor("openai", "o4-mini", 1, nano(limit)));
    expect(cap).toBeGreaterThanOrEqual(16);
    expect(sent.event?.output_tokens).toBeLessThanOrEqual(cap as number);
    expect(sent.event?.reasoning_tokens).toBeGreaterThan(0);
  });

  it("OpenAI chat: every limit field the body carries is lowered, none is added beside the client's", async () => {
    const limit = "0.0002";
    const bodies: [Json, string[]][] = [
      [{ max_completion_tokens: 100_000 }, ["max_completion_tokens"]],
      [{ max_tokens: 100_000 }, ["max_tokens"]],
      [{ max_tokens: 100_000, max_completion_tokens: 90_000 }, ["max_tokens", "max_completion_tokens"]],
      [{ max_tokens: 20, max_completion_tokens: 90_000 }, ["max_tokens", "max_completion_tokens"]],
    ];
    for (const [extra, fields] of bodies) {
      const { tenant, spent } = await budgeted(limit);
      const sent = await send(tenant, "chat", { model: "o4-mini", stream: true, messages: USER, ...extra }, HIDDEN);
      expect(sent.res.status).toBe(200);
      expect(Object.keys(sent.limits).sort()).toEqual([...fields].sort());
      const bought = outputFor("openai", "o4-mini", 1, nano(limit));
      for (const field of fields) {
        const value = sent.limits[field] as number;
        expect(value).toBeLessThanOrEqual(Math.min(bought, (extra[field] as number) ?? Infinity));
      }
      expect(await spent()).toBeLessThanOrEqual(nano(limit));
    }
  });

  it("OpenAI Responses, reasoning model: max_output_tokens", async () => {
    const limit = "0.0002";
    const { tenant, spent } = await budgeted(limit);
    const sent = await send(
      tenant,
      "responses",
      { model: "o4-mini", stream: true, input: "Think hard, then say hello.", max_output_tokens: 50_000 },
      HIDDEN,
    );
    expect(sent.res.status).toBe(200);
    // Booked at or under the limit: the prompt estimate (body bytes / 4) errs high here.
    expect(await spent()).toBeLessThanOrEqual(nano(limit));
    const cap = sent.limits.max_output_tokens as number;
    expect(cap).toBeLessThanOrEqual(outputFor("openai", "o4-mini", 1, nano(limit)));
    expect(sent.event?.output_tokens).toBeLessThanOrEqual(cap);
  });

  it("Anthropic, summarized thinking: max_tokens lowered and budget_tokens kept below it", async () => {
    const limit = "0.02";
    const { tenant, spent } = await budgeted(limit);
    const sent = await send(
      tenant,
      "anthropic",
      {
        model: "claude-sonnet-4-5",
        stream: true,
        max_tokens: 16_000,
        thinking: { type: "enabled", budget_tokens: 8_000 },
        messages: USER,
      },
      { "x-demo-thinking": "summarized", "x-demo-reasoning-tokens": "8000" },
    );
    // The demo enforces Anthropic's rules here: a 400 would mean budget_tokens >= max_tokens.
    expect(sent.res.status).toBe(200);
    // Booked at or under the limit: the prompt estimate (body bytes / 4) errs high here.
    expect(await spent()).toBeLessThanOrEqual(nano(limit));
    const max = sent.limits.max_tokens as number;
    expect(max).toBeLessThanOrEqual(outputFor("anthropic", "claude-sonnet-4-5", 1, nano(limit)));
    expect(sent.limits["thinking.type"]).toBe("enabled");
    expect(sent.limits["thinking.budget_tokens"]).toBeGreaterThanOrEqual(1024);
    expect(sent.limits["thinking.budget_tokens"]).toBeLessThan(max);
    expect(sent.event?.output_tokens).toBeLessThanOrEqual(max);
  });

  it("Anthropic: when what is left cannot hold a 1,024-token thinking budget, thinking is turned off", async () => {
    const limit = "0.002";
    const { tenant, spent } = await budgeted(limit);
    const sent = await send(
      tenant,
      "anthropic",
      {
        model: "claude-sonnet-4-5",
        stream: true,
        max_tokens: 4_000,
        thinking: { type: "enabled", budget_tokens: 2_000 },
        messages: USER,
      },
      { "x-demo-thinking": "summarized", "x-demo-reasoning-tokens": "2000" },
    );
    expect(sent.res.status).toBe(200);
    // Booked at or under the limit: the prompt estimate (body bytes / 4) errs high here.
    expect(await spent()).toBeLessThanOrEqual(nano(limit));
    expect(sent.limits["thinking.type"]).toBe("disabled");
    expect(sent.limits["thinking.budget_tokens"]).toBeUndefined();
    expect(sent.limits.max_tokens).toBeLessThanOrEqual(1024);
    expect(sent.text).not.toContain("thinking_delta");
  });

  it("Gemini, thinking model: maxOutputTokens (thoughts included), thinkingBudget lowered below it", async () => {
    const limit = "0.0004";
    const { tenant, spent } = await budgeted(limit);
    const sent = await send(
      tenant,
      "gemini",
      {
        contents: [{ role: "user", parts: [{ text: "Think hard, then say hello." }] }],
        generationConfig: { thinkingConfig: { thinkingBudget: 8_000 } },
      },
      HIDDEN,
    );
    expect(sent.res.status).toBe(200);
    // Booked at or under the limit: the prompt estimate (body bytes / 4) errs high here.
    expect(await spent()).toBeLessThanOrEqual(nano(limit));
    const max = sent.limits["generationConfig.maxOutputTokens"] as number;
    expect(max).toBeLessThanOrEqual(outputFor("google", "gemini-2.5-flash", 1, nano(limit)));
    const budget = sent.limits["generationConfig.thinkingConfig.thinkingBudget"] as number;
    expect(budget === 8_000 ? max - 1 < 128 : budget < max).toBe(true);
    expect(sent.event?.output_tokens).toBeLessThanOrEqual(max);
    expect(sent.event?.reasoning_tokens).toBeGreaterThan(0);
  });
});

describe.concurrent("any call a block budget covers", () => {
  it("without a limit of its own, is sent the 4,096 tokens it is held for (non-stream, every format)", async () => {
    const { tenant } = await budgeted("10");
    const chat = await send(tenant, "chat", { model: "o4-mini", messages: USER }, HIDDEN);
    expect(chat.limits).toEqual({ max_completion_tokens: 4096 });
    const responses = await send(tenant, "responses", { model: "o4-mini", input: "hi" }, HIDDEN);
    expect(responses.limits).toEqual({ max_output_tokens: 4096 });
    const gemini = await send(tenant, "geminiJson", { contents: [{ role: "user", parts: [{ text: "hi" }] }] }, HIDDEN);
    expect(gemini.limits).toEqual({ "generationConfig.maxOutputTokens": 4096 });
    // A call with its own smaller limit is left as it is.
    const own = await send(tenant, "chat", { model: "o4-mini", messages: USER, max_completion_tokens: 300 });
    expect(own.limits).toEqual({ max_completion_tokens: 300 });
  });

  it("under an alert budget only, is left alone", async () => {
    const tenant = await newTenant();
    await createBudget(tenant, { limit_usd: "0.0000001", mode: "alert" });
    const chat = await send(tenant, "chat", { model: "o4-mini", messages: USER }, HIDDEN);
    expect(chat.res.status).toBe(200);
    expect(chat.limits).toEqual({});
  });

  it("a non-stream call whose worst case does not fit is still refused, never sent", async () => {
    const { tenant } = await budgeted("0.0002");
    const sent = await send(tenant, "chat", { model: "o4-mini", messages: USER }, HIDDEN);
    expect(sent.res.status).toBe(402);
    expect(sent.upstreamSeen).toBe(false);
  });

  it("with a policy's default limit, gets the lower of it and what the budget buys", async () => {
    const limit = "0.0002";
    const { tenant, spent } = await budgeted(limit);
    const policy = await tenant.api("/policies", {
      method: "POST",
      json: { name: "long answers", default_max_tokens: 50_000 },
    });
    expect(policy.status).toBe(201);
    const sent = await send(tenant, "chat", { model: "o4-mini", stream: true, messages: USER }, HIDDEN);
    expect(sent.res.status).toBe(200);
    expect(sent.limits.max_completion_tokens).toBeLessThanOrEqual(outputFor("openai", "o4-mini", 1, nano(limit)));
    expect(await spent()).toBeLessThanOrEqual(nano(limit));
    // Plenty left: the policy's own default is what is sent.
    const rich = await budgeted("100");
    await rich.tenant.api("/policies", { method: "POST", json: { name: "long", default_max_tokens: 5_000 } });
    const wide = await send(rich.tenant, "chat", { model: "o4-mini", messages: USER }, HIDDEN);
    expect(wide.limits).toEqual({ max_completion_tokens: 5_000 });
  });

  it("admitted from a lease, carries the limit too", async () => {
    const { tenant } = await budgeted("10");
    const mode = await tenant.api("/settings", { method: "PATCH", json: { admission_mode: "lease" } });
    expect(mode.status).toBe(200);
    const leased = await waitFor(async () => {
      const sent = await send(tenant, "chat", { model: "o4-mini", messages: USER }, HIDDEN);
      return sent.res.headers.get("x-outlay-admission") === "lease" ? sent : null;
    }, "a call admitted from the lease");
    expect(leased.limits).toEqual({ max_completion_tokens: 4096 });
  });
});

describe.concurrent("the ledger never throws on a token count", () => {
  it("refuses impossible counts as a value (bad_request), and still admits a sane one", async () => {
    const tenant = await newTenant();
    await createBudget(tenant, { limit_usd: "1" });
    const ledger = env.TENANT_LEDGER.get(env.TENANT_LEDGER.idFromName(tenant.tenantId));
    const hash = await keyHash(env.KEY_PEPPER, tenant.proxyKey);
    const admit = (maxOutputTokens: number | null, inputTokens = 10): Promise<AdmitResult> => {
      const request = {
        keyId: tenant.keyId,
        keyHash: hash,
        provider: "openai",
        builtInProvider: true,
        requestId: `req_${crypto.randomUUID().replaceAll("-", "").slice(0, 21)}`,
        now: Date.now(),
        call: {
          model: "gpt-4o-mini",
          endpoint: "chat.completions",
          stream: false,
          metered: true,
          inputTokens,
          maxOutputTokens,
          dimensions: {},
          source: null,
        },
      };
      return ledger.admit(request as AdmitRequest);
    };
    for (const bad of [1e308, Infinity, -Infinity, NaN, -1, 2.5, 2 ** 53, Number.MAX_VALUE]) {
      const result = await admit(bad);
      expect({ bad, ok: result.ok, code: "code" in result ? result.code : null }).toEqual({
        bad,
        ok: false,
        code: "bad_request",
      });
      const input = await admit(100, bad);
      expect({ bad, ok: input.ok, code: "code" in input ? input.code : null }).toEqual({
        bad,
        ok: false,
        code: "bad_request",
      });
    }
    // Huge but safe: priced exactly and refused by the budget, not thrown.
    const huge = await admit(Number.MAX_SAFE_INTEGER);
    expect("code" in huge ? huge.code : "admitted").toBe("budget_exceeded");
    expect((await admit(100)).ok).toBe(true);
  });
});

describe.concurrent("a call that asks for several answers (n, best_of, candidateCount)", () => {
  // Each answer may use the whole output limit, and the provider bills them all.
  const body = { model: "gpt-4o-mini", messages: USER, max_tokens: 100 };

  it("is held for every answer: one answer fits the budget, three do not (refused, never sent)", async () => {
    const hold = (answers: number) =>
      BigInt(
        priceCall(
          "openai",
          "gpt-4o-mini",
          { ...NO_TOKENS, inputTokens: 100, outputTokens: 100 * answers },
          [],
          new Date(),
        )?.costNanoUsd ?? 0,
      );
    // Between the hold of one answer and of three (the prompt estimate is well under 100 tokens).
    const limitNano = (hold(1) + hold(3)) / 2n;
    const { tenant } = await budgeted((Number(limitNano) / 1e9).toFixed(9));
    const one = await send(tenant, "chat", { ...body, n: 1 });
    expect(one.res.status).toBe(200);
    const three = await send(tenant, "chat", { ...body, n: 3 });
    expect(three.res.status).toBe(402);
    expect(three.upstreamSeen).toBe(false);
    const best = await send(tenant, "chat", { ...body, n: 1, best_of: 3 });
    expect(best.res.status).toBe(200);
    const gemini = await send(tenant, "geminiJson", {
      contents: [{ role: "user", parts: [{ text: "hi" }] }],
      generationConfig: { maxOutputTokens: 100, candidateCount: 3 },
    });
    expect(gemini.res.status).toBe(402);
    expect(gemini.upstreamSeen).toBe(false);
  });

  it("a stream on what is left sends each answer its share of what the rest buys", async () => {
    const stream = { model: "o4-mini", messages: USER, stream: true };
    const single = await budgeted("0.0002");
    const alone = await send(single.tenant, "chat", stream, HIDDEN);
    const pair = await budgeted("0.0002");
    const two = await send(pair.tenant, "chat", { ...stream, n: 2 }, HIDDEN);
    expect(alone.res.status).toBe(200);
    expect(two.res.status).toBe(200);
    const cap = alone.limits.max_completion_tokens as number;
    expect(cap).toBeGreaterThan(32);
    expect(two.limits.max_completion_tokens).toBe(Math.floor(cap / 2));
  });

  it("refuses an answer count the provider would read differently (0, 129, a string, a fraction)", async () => {
    const tenant = await newTenant();
    const cases: [keyof typeof ROUTES, Json, string][] = [
      ["chat", { ...body, n: 0 }, "n"],
      ["chat", { ...body, n: 129 }, "n"],
      ["chat", { ...body, n: "2" }, "n"],
      ["chat", { ...body, n: 1.5 }, "n"],
      [
        "geminiJson",
        { contents: [{ role: "user", parts: [{ text: "hi" }] }], generationConfig: { candidateCount: 0 } },
        "generationConfig.candidateCount",
      ],
    ];
    for (const [route, json, param] of cases) {
      const sent = await send(tenant, route, json);
      expect({ param, status: sent.res.status, named: sent.text.includes(param), seen: sent.upstreamSeen }).toEqual({
        param,
        status: 400,
        named: true,
        seen: false,
      });
    }
  });
});
