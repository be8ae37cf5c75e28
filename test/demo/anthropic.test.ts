// Demo upstream, Anthropic wire format: /v1/messages (JSON, SSE, tools, thinking) and count_tokens.
import { describe, expect, it } from "vitest";
import { createUpstreamApp } from "../../demo/upstream/app.ts";
import { anthropicUsage } from "../../demo/upstream/anthropic.ts";
import { anthropicTexts } from "../../demo/upstream/input-text.ts";
import { answerText, inputTokensFromTexts, thinkingText } from "../../demo/upstream/tokens.ts";
import { ANTHROPIC_AUTH, type Json, lastRecord, parseSse, post } from "./support.ts";

const MESSAGES = "/anthropic/v1/messages";
const user = (content: string) => [{ role: "user", content }];
const weather = { name: "get_weather", input_schema: { type: "object", properties: { city: { type: "string" } } } };

type Message = {
  id: string;
  type: string;
  role: string;
  model: string;
  content: Array<Json>;
  stop_reason: string;
  stop_sequence: null;
  usage: ReturnType<typeof anthropicUsage>;
};

describe("messages, JSON", () => {
  it("answers in Anthropic's shape; input counts system and messages", async () => {
    const app = createUpstreamApp();
    const body = {
      model: "claude-sonnet-4-5",
      max_tokens: 100,
      system: [{ type: "text", text: "s".repeat(10) }],
      messages: [{ role: "user", content: [{ type: "text", text: "u".repeat(30) }] }],
    };
    expect(inputTokensFromTexts(anthropicTexts(body))).toBe(10);
    const res = await post(app, MESSAGES, body, ANTHROPIC_AUTH);
    expect(res.status).toBe(200);
    expect(res.headers.get("request-id")).toMatch(/^req_011C/);
    const msg = (await res.json()) as Message;
    expect(msg.id).toMatch(/^msg_01/);
    expect(msg).toMatchObject({
      type: "message",
      role: "assistant",
      model: "claude-sonnet-4-5",
      content: [{ type: "text", text: answerText(24) }],
      stop_reason: "end_turn",
      stop_sequence: null,
    });
    expect(msg.usage).toEqual({
      input_tokens: 10,
      cache_creation_input_tokens: 0,
      cache_read_input_tokens: 0,
      cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
      output_tokens: 24,
      service_tier: "standard",
    });
    expect((await lastRecord(app)).usage).toEqual(msg.usage);
  });

  it("keeps input_tokens exclusive of cache reads and writes", async () => {
    const app = createUpstreamApp();
    const res = await post(
      app,
      MESSAGES,
      { model: "claude-haiku-4-5", max_tokens: 10, messages: user("x".repeat(120)) },
      { ...ANTHROPIC_AUTH, "x-demo-cached-tokens": "20", "x-demo-cache-write-tokens": "6" },
    );
    const msg = (await res.json()) as Message;
    expect(msg.usage).toMatchObject({
      input_tokens: 4,
      cache_read_input_tokens: 20,
      cache_creation_input_tokens: 6,
      output_tokens: 10,
    });
    expect(msg.stop_reason).toBe("max_tokens");
    // clamps: reads to the total, writes to what is left
    expect(anthropicUsage(30, 100, 5, 1)).toMatchObject({
      input_tokens: 0,
      cache_read_input_tokens: 30,
      cache_creation_input_tokens: 0,
    });
    expect(anthropicUsage(30, 25, 10, 1)).toMatchObject({
      input_tokens: 0,
      cache_read_input_tokens: 25,
      cache_creation_input_tokens: 5,
    });
  });

  it("emits a thinking block first and counts it in output_tokens", async () => {
    const app = createUpstreamApp();
    const res = await post(
      app,
      MESSAGES,
      {
        model: "claude-sonnet-4-5",
        max_tokens: 2000,
        thinking: { type: "enabled", budget_tokens: 1024 },
        messages: user("x"),
      },
      ANTHROPIC_AUTH,
    );
    const msg = (await res.json()) as Message;
    expect(msg.content[0]).toMatchObject({ type: "thinking", thinking: thinkingText(16) });
    expect(typeof msg.content[0]?.signature).toBe("string");
    expect(msg.content[1]).toEqual({ type: "text", text: answerText(24) });
    expect(msg.usage.output_tokens).toBe(40);
    const small = await post(
      app,
      MESSAGES,
      {
        model: "claude-sonnet-4-5",
        max_tokens: 12,
        thinking: { type: "enabled", budget_tokens: 5 },
        messages: user("x"),
      },
      ANTHROPIC_AUTH,
    );
    const smallMsg = (await small.json()) as Message;
    expect(smallMsg.usage.output_tokens).toBe(12);
    expect(smallMsg.content[0]?.thinking).toBe(thinkingText(5));
    expect(smallMsg.stop_reason).toBe("max_tokens");
  });

  it("uses the first tool with stop_reason tool_use, and answers in text after a tool_result", async () => {
    const app = createUpstreamApp();
    const res = await post(
      app,
      MESSAGES,
      { model: "claude-sonnet-4-5", max_tokens: 100, tools: [weather], messages: user("x") },
      ANTHROPIC_AUTH,
    );
    const msg = (await res.json()) as Message;
    expect(msg.stop_reason).toBe("tool_use");
    expect(msg.content[0]).toMatchObject({ type: "tool_use", name: "get_weather", input: { city: "Paris" } });
    expect(msg.content[0]?.id).toMatch(/^toolu_01/);
    expect(msg.usage.output_tokens).toBe(5);
    const followUp = [
      ...user("x"),
      {
        role: "assistant",
        content: [{ type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Paris" } }],
      },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "sunny" }] },
    ];
    const answered = await post(
      app,
      MESSAGES,
      { model: "claude-sonnet-4-5", max_tokens: 100, tools: [weather], messages: followUp },
      ANTHROPIC_AUTH,
    );
    expect(((await answered.json()) as Message).stop_reason).toBe("end_turn");
    const none = await post(
      app,
      MESSAGES,
      {
        model: "claude-sonnet-4-5",
        max_tokens: 100,
        tools: [weather],
        tool_choice: { type: "none" },
        messages: user("x"),
      },
      ANTHROPIC_AUTH,
    );
    expect(((await none.json()) as Message).stop_reason).toBe("end_turn");
  });
});

describe("messages, SSE", () => {
  it("sends the real event sequence with usage in message_start and cumulative message_delta", async () => {
    const app = createUpstreamApp();
    const res = await post(
      app,
      MESSAGES,
      { model: "claude-sonnet-4-5", max_tokens: 100, stream: true, messages: user("x".repeat(40)) },
      { ...ANTHROPIC_AUTH, "x-demo-cached-tokens": "4" },
    );
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const text = await res.text();
    expect(text.startsWith("event: message_start\ndata: {")).toBe(true);
    const events = parseSse(text);
    const payloads = events.map((e) => JSON.parse(e.data) as Json);
    expect(payloads.map((p) => p.type)).toEqual(events.map((e) => e.event));
    expect(events.map((e) => e.event)).toEqual([
      "message_start",
      "content_block_start",
      "ping",
      ...Array<string>(24).fill("content_block_delta"),
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    const start = payloads[0]?.message as Message;
    expect(start).toMatchObject({
      type: "message",
      role: "assistant",
      content: [],
      stop_reason: null,
      model: "claude-sonnet-4-5",
    });
    expect(start.usage).toMatchObject({
      input_tokens: 6,
      cache_read_input_tokens: 4,
      cache_creation_input_tokens: 0,
      output_tokens: 1,
    });
    expect(payloads[1]).toEqual({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } });
    const deltas = payloads
      .filter((p) => p.type === "content_block_delta")
      .map((p) => p.delta as { type: string; text: string });
    expect(deltas.every((d) => d.type === "text_delta")).toBe(true);
    expect(deltas.map((d) => d.text).join("")).toBe(answerText(24));
    const messageDelta = payloads.at(-2);
    expect(messageDelta).toEqual({
      type: "message_delta",
      delta: { stop_reason: "end_turn", stop_sequence: null },
      usage: { input_tokens: 6, cache_creation_input_tokens: 0, cache_read_input_tokens: 4, output_tokens: 24 },
    });
    const record = await lastRecord(app);
    expect(record).toMatchObject({ completed: true, outputChunks: 24, usage: messageDelta?.usage });
  });

  it("streams thinking (thinking_delta + signature_delta) then tool_use (input_json_delta)", async () => {
    const app = createUpstreamApp();
    const res = await post(
      app,
      MESSAGES,
      {
        model: "claude-opus-4-1",
        max_tokens: 3000,
        stream: true,
        thinking: { type: "enabled", budget_tokens: 2048 },
        tools: [weather],
        tool_choice: { type: "tool", name: "get_weather" },
        messages: user("x"),
      },
      { ...ANTHROPIC_AUTH, "x-demo-reasoning-tokens": "3" },
    );
    const payloads = parseSse(await res.text()).map((e) => JSON.parse(e.data) as Json);
    const blocks = payloads.filter((p) => p.type === "content_block_start").map((p) => (p.content_block as Json).type);
    expect(blocks).toEqual(["thinking", "tool_use"]);
    const deltas = payloads.filter((p) => p.type === "content_block_delta").map((p) => p.delta as Json);
    expect(deltas.map((d) => d.type)).toEqual([
      "thinking_delta",
      "thinking_delta",
      "thinking_delta",
      "signature_delta",
      ...Array<string>(6).fill("input_json_delta"),
    ]);
    expect(
      deltas
        .filter((d) => d.type === "input_json_delta")
        .map((d) => d.partial_json)
        .join(""),
    ).toBe('{"city":"Paris"}');
    expect(payloads.at(-2)).toMatchObject({ delta: { stop_reason: "tool_use" }, usage: { output_tokens: 3 + 5 } });
  });
});

describe("count_tokens and errors", () => {
  it("counts input tokens", async () => {
    const app = createUpstreamApp();
    const res = await post(
      app,
      `${MESSAGES}/count_tokens`,
      { model: "claude-sonnet-4-5", messages: user("x".repeat(17)) },
      ANTHROPIC_AUTH,
    );
    expect(await res.json()).toEqual({ input_tokens: 5 });
  });

  it("accepts x-api-key or Authorization: Bearer; refuses a missing or `invalid` key with 401", async () => {
    const app = createUpstreamApp();
    const body = { model: "claude-sonnet-4-5", max_tokens: 5, messages: user("x") };
    const version = { "anthropic-version": "2023-06-01" };
    expect((await post(app, MESSAGES, body, { ...version, authorization: "Bearer sk-ant-x" })).status).toBe(200);
    for (const headers of [version, { ...version, "x-api-key": "invalid" }]) {
      const res = await post(app, MESSAGES, body, headers);
      expect(res.status).toBe(401);
      const json = (await res.json()) as { type: string; error: Json; request_id: string };
      expect(json).toMatchObject({ type: "error", error: { type: "authentication_error" } });
      expect(json.request_id).toBe(res.headers.get("request-id"));
    }
  });

  it("requires anthropic-version, valid JSON, model, messages and max_tokens", async () => {
    const app = createUpstreamApp();
    const noVersion = await post(
      app,
      MESSAGES,
      { model: "m", max_tokens: 5, messages: user("x") },
      { "x-api-key": "k" },
    );
    expect(noVersion.status).toBe(400);
    expect(await noVersion.json()).toMatchObject({
      type: "error",
      error: { type: "invalid_request_error", message: "anthropic-version: header is required" },
    });
    const cases: Array<[unknown, string]> = [
      ["{oops", "JSON"],
      [{ max_tokens: 5, messages: user("x") }, "model"],
      [{ model: "m", max_tokens: 5 }, "messages"],
      [{ model: "m", messages: user("x") }, "max_tokens"],
    ];
    for (const [body, mention] of cases) {
      const res = await post(app, MESSAGES, body, ANTHROPIC_AUTH);
      expect(res.status).toBe(400);
      const json = (await res.json()) as { error: { type: string; message: string } };
      expect(json.error.type).toBe("invalid_request_error");
      expect(json.error.message).toContain(mention);
    }
  });
});
