// Demo upstream, OpenAI wire format: Chat Completions (JSON, SSE, tools) and errors.
import { describe, expect, it } from "vitest";
import { createUpstreamApp } from "../../demo/upstream/app.ts";
import { openaiChatTexts } from "../../demo/upstream/input-text.ts";
import { answerText, inputTokensFromTexts } from "../../demo/upstream/tokens.ts";
import { type Json, OPENAI_AUTH, lastRecord, parseSse, post, sseJson } from "./support.ts";

const CHAT = "/openai/v1/chat/completions";
const user = (content: string) => [{ role: "user", content }];
const weatherTool = {
  type: "function",
  function: {
    name: "get_weather",
    parameters: { type: "object", properties: { unit: { type: "number" }, location: { type: "string" } } },
  },
};

type ChatBody = {
  id: string;
  object: string;
  created: number;
  model: string;
  choices: Array<{
    index: number;
    message: { role: string; content: string | null; tool_calls?: Array<{ id: string; function: Json }> };
    finish_reason: string;
    logprobs: null;
  }>;
  usage: {
    prompt_tokens: number;
    completion_tokens: number;
    total_tokens: number;
    prompt_tokens_details: { cached_tokens: number; audio_tokens: number };
    completion_tokens_details: { reasoning_tokens: number };
  };
};

describe("chat completions, JSON", () => {
  it("answers in OpenAI's shape with the documented usage arithmetic", async () => {
    const app = createUpstreamApp();
    const messages = [
      { role: "system", content: "s".repeat(9) },
      { role: "user", content: [{ type: "text", text: "u".repeat(40) }] },
    ];
    const res = await post(app, CHAT, { model: "gpt-4o-mini", messages }, OPENAI_AUTH);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(res.headers.get("x-request-id")).toMatch(/^req_[0-9a-f]{32}$/);
    expect(res.headers.get("openai-processing-ms")).not.toBeNull();
    const body = (await res.json()) as ChatBody;
    expect(body.id).toMatch(/^chatcmpl-/);
    expect(body.object).toBe("chat.completion");
    expect(typeof body.created).toBe("number");
    expect(body.model).toBe("gpt-4o-mini");
    expect(body.choices[0]).toMatchObject({
      index: 0,
      message: { role: "assistant", content: answerText(24) },
      finish_reason: "stop",
      logprobs: null,
    });
    // 49 characters -> ceil(49 / 4) = 13 prompt tokens; 24 words answered.
    expect(inputTokensFromTexts(openaiChatTexts({ messages }))).toBe(13);
    expect(body.usage).toEqual({
      prompt_tokens: 13,
      completion_tokens: 24,
      total_tokens: 37,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 0,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    });
    const record = await lastRecord(app);
    expect(record).toMatchObject({ provider: "openai", model: "gpt-4o-mini", stream: false, status: 200 });
    expect(record.id).toBe(res.headers.get("x-request-id"));
    expect(record.usage).toEqual(body.usage);
  });

  it("truncates at max_tokens / max_completion_tokens with finish_reason length", async () => {
    const app = createUpstreamApp();
    for (const field of ["max_tokens", "max_completion_tokens"]) {
      const res = await post(app, CHAT, { model: "gpt-4o-mini", messages: user("hi"), [field]: 5 }, OPENAI_AUTH);
      const body = (await res.json()) as ChatBody;
      expect(body.choices[0]?.finish_reason).toBe("length");
      expect(body.choices[0]?.message.content).toBe(answerText(5));
      expect(body.usage.completion_tokens).toBe(5);
    }
  });

  it("reports cached tokens from x-demo-cached-tokens, clamped to the prompt, included in prompt_tokens", async () => {
    const app = createUpstreamApp();
    const text = "x".repeat(400);
    const some = await post(
      app,
      CHAT,
      { model: "gpt-4o", messages: user(text) },
      { ...OPENAI_AUTH, "x-demo-cached-tokens": "64" },
    );
    const body = (await some.json()) as ChatBody;
    expect(body.usage.prompt_tokens).toBe(100);
    expect(body.usage.prompt_tokens_details.cached_tokens).toBe(64);
    const all = await post(
      app,
      CHAT,
      { model: "gpt-4o", messages: user(text) },
      { ...OPENAI_AUTH, "x-demo-cached-tokens": "5000" },
    );
    expect(((await all.json()) as ChatBody).usage.prompt_tokens_details.cached_tokens).toBe(100);
  });

  it("adds reasoning tokens for o-series and gpt-5 models, inside completion_tokens and max_completion_tokens", async () => {
    const app = createUpstreamApp();
    const plain = (await (
      await post(app, CHAT, { model: "gpt-5-mini", messages: user("hi") }, OPENAI_AUTH)
    ).json()) as ChatBody;
    expect(plain.usage.completion_tokens_details.reasoning_tokens).toBe(16);
    expect(plain.usage.completion_tokens).toBe(16 + 24);
    const o3 = await post(
      app,
      CHAT,
      { model: "o3", messages: user("hi") },
      { ...OPENAI_AUTH, "x-demo-reasoning-tokens": "100" },
    );
    expect(((await o3.json()) as ChatBody).usage.completion_tokens).toBe(124);
    const capped = await post(
      app,
      CHAT,
      { model: "o4-mini", messages: user("hi"), max_completion_tokens: 50 },
      { ...OPENAI_AUTH, "x-demo-reasoning-tokens": "100" },
    );
    const cappedBody = (await capped.json()) as ChatBody;
    expect(cappedBody.usage.completion_tokens).toBe(50);
    expect(cappedBody.usage.completion_tokens_details.reasoning_tokens).toBe(50);
    expect(cappedBody.choices[0]?.message.content).toBe("");
    expect(cappedBody.choices[0]?.finish_reason).toBe("length");
    const gpt4o = (await (
      await post(app, CHAT, { model: "gpt-4o", messages: user("hi") }, OPENAI_AUTH)
    ).json()) as ChatBody;
    expect(gpt4o.usage.completion_tokens_details.reasoning_tokens).toBe(0);
  });

  it("calls the first tool with arguments from its first string property", async () => {
    const app = createUpstreamApp();
    const res = await post(
      app,
      CHAT,
      { model: "gpt-4o-mini", messages: user("weather?"), tools: [weatherTool] },
      OPENAI_AUTH,
    );
    const body = (await res.json()) as ChatBody;
    const choice = body.choices[0];
    expect(choice?.finish_reason).toBe("tool_calls");
    expect(choice?.message.content).toBeNull();
    expect(choice?.message.tool_calls?.[0]).toMatchObject({
      type: "function",
      function: { name: "get_weather", arguments: '{"location":"Paris"}' },
    });
    expect(choice?.message.tool_calls?.[0]?.id).toMatch(/^call_/);
    // {"  location  ":"  Paris  "} -> 5 fragments = 5 completion tokens
    expect(body.usage.completion_tokens).toBe(5);
  });

  it("answers in text when tool_choice is none or the last message is a tool result", async () => {
    const app = createUpstreamApp();
    const none = await post(
      app,
      CHAT,
      { model: "gpt-4o-mini", messages: user("x"), tools: [weatherTool], tool_choice: "none" },
      OPENAI_AUTH,
    );
    expect(((await none.json()) as ChatBody).choices[0]?.finish_reason).toBe("stop");
    const messages = [
      ...user("x"),
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: "{}" } }],
      },
      { role: "tool", tool_call_id: "call_1", content: "sunny" },
    ];
    const answered = await post(app, CHAT, { model: "gpt-4o-mini", messages, tools: [weatherTool] }, OPENAI_AUTH);
    expect(((await answered.json()) as ChatBody).choices[0]?.message.content).toBe(answerText(24));
  });
});

describe("chat completions, SSE", () => {
  it("streams one word per chunk and no usage unless stream_options.include_usage", async () => {
    const app = createUpstreamApp();
    const res = await post(app, CHAT, { model: "gpt-4o-mini", stream: true, messages: user("hello") }, OPENAI_AUTH);
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const text = await res.text();
    const events = parseSse(text);
    expect(events.at(-1)?.data).toBe("[DONE]");
    expect(events.every((e) => e.event === undefined)).toBe(true);
    const chunks = sseJson(text);
    expect(chunks.every((c) => !("usage" in c))).toBe(true);
    for (const chunk of chunks) {
      expect(chunk).toMatchObject({ object: "chat.completion.chunk", model: "gpt-4o-mini" });
      expect(chunk.id).toBe(chunks[0]?.id);
    }
    const choices = chunks.map(
      (c) => (c.choices as Array<{ delta: Json; finish_reason: string | null; logprobs: null }>)[0],
    );
    expect(choices[0]?.delta).toEqual({ role: "assistant", content: "", refusal: null });
    const contents = choices.flatMap((c) =>
      typeof c?.delta.content === "string" && c.delta.content !== "" ? [c.delta.content] : [],
    );
    expect(contents).toHaveLength(24);
    expect(contents.join("")).toBe(answerText(24));
    expect(choices.at(-1)).toEqual({ index: 0, delta: {}, logprobs: null, finish_reason: "stop" });
    const record = await lastRecord(app);
    expect(record).toMatchObject({ stream: true, completed: true, outputChunks: 24, usage: null });
  });

  it("with include_usage: usage null on every chunk, then a choices-less usage chunk before [DONE]", async () => {
    const app = createUpstreamApp();
    const res = await post(
      app,
      CHAT,
      {
        model: "gpt-5-mini",
        stream: true,
        stream_options: { include_usage: true },
        max_completion_tokens: 26,
        messages: user("hello"),
      },
      { ...OPENAI_AUTH, "x-demo-cached-tokens": "1" },
    );
    const text = await res.text();
    const events = parseSse(text);
    expect(events.at(-1)?.data).toBe("[DONE]");
    const chunks = sseJson(text);
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage).toEqual({
      prompt_tokens: 2,
      completion_tokens: 26,
      total_tokens: 28,
      prompt_tokens_details: { cached_tokens: 1, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 16,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    });
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    const finish = chunks.at(-2)?.choices as Array<{ finish_reason: string }>;
    expect(finish[0]?.finish_reason).toBe("length");
    expect((await lastRecord(app)).usage).toEqual(last?.usage);
  });

  it("streams a tool call: id/type/name first, then argument fragments", async () => {
    const app = createUpstreamApp();
    const res = await post(
      app,
      CHAT,
      {
        model: "gpt-4o-mini",
        stream: true,
        messages: user("weather?"),
        tools: [weatherTool],
        tool_choice: { type: "function", function: { name: "get_weather" } },
      },
      OPENAI_AUTH,
    );
    const chunks = sseJson(await res.text());
    const deltas = chunks.map(
      (c) => (c.choices as Array<{ delta: { tool_calls?: Array<Json> }; finish_reason: string | null }>)[0],
    );
    const first = deltas[0]?.delta.tool_calls?.[0];
    expect(first).toMatchObject({ index: 0, type: "function", function: { name: "get_weather", arguments: "" } });
    expect(first?.id).toMatch(/^call_/);
    const args = deltas
      .slice(1)
      .flatMap((d) => d?.delta.tool_calls ?? [])
      .map((call) => (call.function as { arguments: string }).arguments);
    expect(args).toEqual(['{"', "location", '":"', "Paris", '"}']);
    expect(deltas.at(-1)?.finish_reason).toBe("tool_calls");
  });
});

describe("OpenAI errors", () => {
  const invalidKey = { error: { type: "invalid_request_error", param: null, code: "invalid_api_key" } };

  it("refuses a missing or `invalid` key with 401 invalid_api_key, accepts any other key", async () => {
    const app = createUpstreamApp();
    const body = { model: "gpt-4o-mini", messages: user("x") };
    const missing = await post(app, CHAT, body);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject(invalidKey);
    const invalid = await post(app, CHAT, body, { authorization: "Bearer invalid" });
    expect(invalid.status).toBe(401);
    expect(await invalid.json()).toMatchObject(invalidKey);
    expect((await post(app, CHAT, body, { authorization: "Bearer anything-else" })).status).toBe(200);
  });

  it("refuses malformed JSON, a missing model or messages, and stream_options without stream", async () => {
    const app = createUpstreamApp();
    const cases: Array<[unknown, string]> = [
      ["{not json", "could not parse the JSON body"],
      [{ messages: user("x") }, "you must provide a model parameter"],
      [{ model: "gpt-4o-mini" }, "'messages'"],
      [{ model: "gpt-4o-mini", messages: user("x"), stream_options: { include_usage: true } }, "stream_options"],
      [{ model: "gpt-4o-mini", messages: user("x"), max_tokens: -1 }, "max_tokens"],
    ];
    for (const [body, message] of cases) {
      const res = await post(app, CHAT, body, OPENAI_AUTH);
      expect(res.status).toBe(400);
      const json = (await res.json()) as { error: { message: string; type: string; param: null; code: null } };
      expect(json.error).toMatchObject({ type: "invalid_request_error", param: null, code: null });
      expect(json.error.message).toContain(message);
    }
    const record = await lastRecord(app);
    expect(record).toMatchObject({ status: 400, usage: null, completed: true });
  });
});
