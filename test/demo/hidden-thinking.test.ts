// The demo upstream's hidden-token controls: Anthropic summarized thinking (Claude 4: a few words
// streamed, every thinking token billed, budget_tokens rules enforced) and the request log's
// `limits`, the output-limit fields a request carried.
import { describe, expect, it } from "vitest";
import { SUMMARY_WORDS } from "../../demo/upstream/anthropic.ts";
import { createUpstreamApp } from "../../demo/upstream/app.ts";
import { thinkingText } from "../../demo/upstream/tokens.ts";
import { ANTHROPIC_AUTH, GOOGLE_AUTH, OPENAI_AUTH, lastRecord, post, sseJson, type Json } from "./support.ts";

const MESSAGES = "/anthropic/v1/messages";
const user = [{ role: "user", content: "x" }];
const SUMMARIZED = { ...ANTHROPIC_AUTH, "x-demo-thinking": "summarized", "x-demo-reasoning-tokens": "1500" };

describe("Anthropic summarized thinking", () => {
  it("streams a few words of thinking and bills all of it", async () => {
    const app = createUpstreamApp();
    const body = {
      model: "claude-sonnet-4-5",
      max_tokens: 4000,
      stream: true,
      thinking: { type: "enabled", budget_tokens: 2000 },
      messages: user,
    };
    const events = sseJson(await (await post(app, MESSAGES, body, SUMMARIZED)).text());
    const thinking = events
      .filter((e) => (e.delta as Json | undefined)?.type === "thinking_delta")
      .map((e) => (e.delta as Json).thinking)
      .join("");
    expect(thinking).toBe(thinkingText(SUMMARY_WORDS));
    const final = events.find((e) => e.type === "message_delta") as { usage: { output_tokens: number } };
    expect(final.usage.output_tokens).toBe(1500 + 24);
    const record = await lastRecord(app);
    expect(record.outputChunks).toBe(SUMMARY_WORDS + 24);
    expect(record.limits).toEqual({ max_tokens: 4000, "thinking.type": "enabled", "thinking.budget_tokens": 2000 });
  });

  it("answers 400 as Anthropic does for a budget under 1024 or not below max_tokens", async () => {
    const app = createUpstreamApp();
    for (const [max, budget] of [
      [4000, 1000],
      [2000, 2000],
      [1500, 3000],
    ]) {
      const res = await post(
        app,
        MESSAGES,
        {
          model: "claude-sonnet-4-5",
          max_tokens: max,
          thinking: { type: "enabled", budget_tokens: budget },
          messages: user,
        },
        SUMMARIZED,
      );
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");
    }
    // Disabled thinking needs no budget; without the control the old lenient rules stay.
    const off = await post(
      app,
      MESSAGES,
      { model: "claude-sonnet-4-5", max_tokens: 100, thinking: { type: "disabled" }, messages: user },
      SUMMARIZED,
    );
    expect(off.status).toBe(200);
    const lenient = await post(
      app,
      MESSAGES,
      { model: "claude-sonnet-4-5", max_tokens: 12, thinking: { type: "enabled", budget_tokens: 5 }, messages: user },
      ANTHROPIC_AUTH,
    );
    expect(lenient.status).toBe(200);
  });
});

describe("request log limits", () => {
  it("records each format's output-limit fields, numbers only", async () => {
    const app = createUpstreamApp();
    await post(
      app,
      "/openai/v1/chat/completions",
      { model: "o4-mini", messages: user, max_tokens: 50, max_completion_tokens: 40 },
      OPENAI_AUTH,
    );
    expect((await lastRecord(app)).limits).toEqual({ max_tokens: 50, max_completion_tokens: 40 });
    await post(app, "/openai/v1/responses", { model: "o4-mini", input: "x", max_output_tokens: 30 }, OPENAI_AUTH);
    expect((await lastRecord(app)).limits).toEqual({ max_output_tokens: 30 });
    await post(
      app,
      "/google/v1beta/models/gemini-2.5-flash:generateContent",
      {
        contents: [{ role: "user", parts: [{ text: "x" }] }],
        generationConfig: { maxOutputTokens: 20, thinkingConfig: { thinkingBudget: 10 } },
      },
      GOOGLE_AUTH,
    );
    expect((await lastRecord(app)).limits).toEqual({
      "generationConfig.maxOutputTokens": 20,
      "generationConfig.thinkingConfig.thinkingBudget": 10,
    });
    await post(app, "/openai/v1/chat/completions", { model: "gpt-4o-mini", messages: user }, OPENAI_AUTH);
    expect((await lastRecord(app)).limits).toEqual({});
  });
});
