// A blocking budget that runs out in the middle of a stream: the gateway ends the stream with
// the provider's own final events, so each official SDK returns normally with the text so far
// and a length / max_tokens finish; the call is charged what was used and the budget is not
// overspent by more than the stretch of events that passed with the last check.
import Anthropic from "@anthropic-ai/sdk";
import { GoogleGenAI } from "@google/genai";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { newTenant, waitForEvent, workerFetch, type Tenant } from "../helpers.ts";
import { createBudget, nano, settledStatus } from "../ledger/support.ts";
import { GATEWAY } from "./support.ts";

const LONG = { "x-demo-output-tokens": "3000" };

/** The call's id from the SDK's last response, via a fetch that notes it. */
function noting(): { fetch: typeof fetch; requestId: () => string } {
  let id = "";
  return {
    fetch: async (input, init) => {
      const res = await workerFetch(input, init);
      id = res.headers.get("x-outlay-request-id") ?? id;
      return res;
    },
    requestId: () => id,
  };
}

/** A fresh tenant with one blocking budget of `limit` USD, and a fetch that notes the call's id. */
async function budgeted(limit: string) {
  const tenant = await newTenant();
  const budget = await createBudget(tenant, { limit_usd: limit });
  return { tenant, budget, net: noting() };
}

function openaiFor(tenant: Tenant, fetch: typeof globalThis.fetch): OpenAI {
  return new OpenAI({ apiKey: tenant.proxyKey, baseURL: `${GATEWAY}/openai/v1`, fetch, maxRetries: 0 });
}

async function checkCharged(tenant: Tenant, budgetId: string, requestId: string, limitUsd: string) {
  const event = await waitForEvent(tenant.tenantId, requestId);
  expect(event.outcome).toBe("budget_cut");
  expect(event.usage_source).toBe("estimated");
  const status = await settledStatus(tenant, budgetId);
  expect(nano(status.spent_usd)).toBe(BigInt(event.cost_nano_usd ?? -1));
  // The overshoot is at most the events that passed with the last check: a few tokens' worth.
  expect(nano(status.spent_usd)).toBeLessThanOrEqual((nano(limitUsd) * 102n) / 100n);
  expect(nano(status.spent_usd)).toBeGreaterThan((nano(limitUsd) * 90n) / 100n);
  return event;
}

describe("a budget that runs out mid-stream ends the stream cleanly", () => {
  it("openai: chat stream ends with finish_reason length", async () => {
    const limit = "0.0005";
    const { tenant, budget, net } = await budgeted(limit);
    const client = openaiFor(tenant, net.fetch);
    const stream = await client.chat.completions.create(
      { model: "gpt-4o-mini", stream: true, messages: [{ role: "user", content: "Tell me a long story." }] },
      { headers: LONG },
    );
    let text = "";
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(finish).toBe("length");
    expect(text.length).toBeGreaterThan(100);
    const event = await checkCharged(tenant, budget, net.requestId(), limit);
    expect(event.output_tokens).toBeLessThan(3000);
  });

  it("openai: finalChatCompletion of a helper stream with include_usage reports the charged usage", async () => {
    const limit = "0.0004";
    const { tenant, budget, net } = await budgeted(limit);
    const client = openaiFor(tenant, net.fetch);
    const runner = client.chat.completions.stream(
      {
        model: "gpt-4o-mini",
        stream_options: { include_usage: true },
        messages: [{ role: "user", content: "Tell me a long story." }],
      },
      { headers: LONG },
    );
    const completion = await runner.finalChatCompletion();
    expect(completion.choices[0]?.finish_reason).toBe("length");
    const event = await checkCharged(tenant, budget, net.requestId(), limit);
    expect(completion.usage?.completion_tokens).toBe(event.output_tokens);
  });

  it("anthropic: finalMessage has stop_reason max_tokens", async () => {
    const limit = "0.002";
    const { tenant, budget, net } = await budgeted(limit);
    const client = new Anthropic({
      apiKey: tenant.proxyKey,
      baseURL: `${GATEWAY}/anthropic`,
      fetch: net.fetch,
      maxRetries: 0,
    });
    const message = await client.messages
      .stream(
        { model: "claude-3-5-haiku-latest", max_tokens: 4000, messages: [{ role: "user", content: "A long story." }] },
        { headers: LONG },
      )
      .finalMessage();
    expect(message.stop_reason).toBe("max_tokens");
    const first = message.content[0];
    expect(first?.type === "text" ? first.text.length : 0).toBeGreaterThan(100);
    const event = await checkCharged(tenant, budget, net.requestId(), limit);
    expect(message.usage.output_tokens).toBe(event.output_tokens);
  });

  it("gemini: the stream ends with finishReason MAX_TOKENS", async () => {
    const limit = "0.001";
    const { tenant, budget, net } = await budgeted(limit);
    const ai = new GoogleGenAI({
      apiKey: tenant.proxyKey,
      httpOptions: { baseUrl: `${GATEWAY}/google`, fetch: net.fetch, headers: LONG },
    });
    let text = "";
    let finish: string | undefined;
    for await (const chunk of await ai.models.generateContentStream({
      model: "gemini-2.5-flash",
      contents: "A long story.",
    })) {
      text += chunk.text ?? "";
      finish = chunk.candidates?.[0]?.finishReason ?? finish;
    }
    expect(finish).toBe("MAX_TOKENS");
    expect(text.length).toBeGreaterThan(100);
    await checkCharged(tenant, budget, net.requestId(), limit);
  });

  it("a stream with a full hold is never cut, and one refused outright never starts", async () => {
    const tenant = await newTenant();
    await createBudget(tenant, { limit_usd: "1" });
    const client = openaiFor(tenant, workerFetch);
    let finish: string | null = null;
    for await (const chunk of await client.chat.completions.create(
      { model: "gpt-4o-mini", stream: true, max_tokens: 500, messages: [{ role: "user", content: "Hi" }] },
      { headers: { "x-demo-output-tokens": "400" } },
    )) {
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(finish).toBe("stop");

    const poor = await newTenant();
    await createBudget(poor, { limit_usd: "0.000001" });
    const broke = openaiFor(poor, workerFetch);
    await expect(
      broke.chat.completions.create({
        model: "gpt-4o-mini",
        stream: true,
        messages: [{ role: "user", content: "Hi" }],
      }),
    ).rejects.toMatchObject({ status: 402 });
  });
});
