// StreamMeter.finish: a stream the gateway cuts at an event boundary, ended with the meter's
// own final events, must look to each official SDK like a stream the provider stopped at its
// output limit. Real streams come from the demo upstream (in process); the cut text plus the
// ending is handed to the SDK as the body of its response, through the SDK's own fetch option.
import Anthropic from "@anthropic-ai/sdk";
import { GoogleGenAI, type GenerateContentResponse } from "@google/genai";
import OpenAI from "openai";
import { describe, expect, it } from "vitest";
import { createUpstreamApp } from "../../demo/upstream/app.ts";
import { answerText } from "../../demo/upstream/tokens.ts";
import { anthropicStreamMeter } from "../../workers/gateway/providers/anthropic/meter.ts";
import { googleStreamMeter } from "../../workers/gateway/providers/google/meter.ts";
import { openaiStreamMeter } from "../../workers/gateway/providers/openai/meter.ts";
import type { StreamMeter } from "../../workers/gateway/providers/types.ts";
import type { TokenUsage } from "../../shared/usage.ts";
import { ANTHROPIC_AUTH, GOOGLE_AUTH, OPENAI_AUTH, post } from "../demo/support.ts";

/** What the gateway charges for the cut call, reported in the ending. */
const CHARGED: TokenUsage = {
  inputTokens: 12,
  cachedInputTokens: 4,
  cacheWriteTokens: 2,
  outputTokens: 3,
  reasoningTokens: 0,
};

type SseBlock = { raw: string; event: string | undefined; data: string };

/** The events of an SSE body, each with its own text (separator included). */
function splitEvents(text: string): SseBlock[] {
  const parts = text.split(/(\r\n\r\n|\n\n)/);
  const blocks: SseBlock[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) {
    const block = parts[i] ?? "";
    let event: string | undefined;
    const data: string[] = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith("event:")) event = line.slice(6).trim();
      else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
    }
    blocks.push({ raw: block + (parts[i + 1] ?? ""), event, data: data.join("\n") });
  }
  return blocks;
}

/** The first `count` events through the meter (as the gateway forwards them), then its ending. */
function cutAfter(full: string, count: number, meter: StreamMeter, charged = CHARGED): string {
  let text = "";
  for (const block of splitEvents(full).slice(0, count)) if (meter.onEvent(block.event, block.data)) text += block.raw;
  return text + meter.finish(charged);
}

/** A fetch that answers every request with `text` as an event stream. */
function sseFetch(text: string): typeof fetch {
  return async () => new Response(text, { status: 200, headers: { "content-type": "text/event-stream" } });
}

async function upstream(path: string, body: unknown, headers: Record<string, string>): Promise<string> {
  const res = await post(createUpstreamApp(), path, body, headers);
  expect(res.status).toBe(200);
  return res.text();
}

/** Every event of an ending is complete: its text ends in a blank line. */
function expectCompleteEvents(ending: string): void {
  expect(ending).toMatch(/(\n\n|\r\n\r\n)$/);
  for (const block of splitEvents(ending)) expect(block.data).not.toBe("");
}

const hi = [{ role: "user" as const, content: "hi" }];

describe("OpenAI chat/completions", () => {
  const openai = (text: string) =>
    new OpenAI({ apiKey: "x", baseURL: "http://x/v1", fetch: sseFetch(text), maxRetries: 0 });
  const chatStream = () =>
    upstream(
      "/openai/v1/chat/completions",
      { model: "gpt-4o-mini", messages: hi, stream: true, stream_options: { include_usage: true } },
      OPENAI_AUTH,
    );

  it("ends a cut stream with finish_reason length and [DONE]; no usage chunk the client did not ask for", async () => {
    const full = await chatStream();
    // role chunk + 3 word chunks; the proxy asked for the usage chunk, so it strips it.
    const meter = openaiStreamMeter("chat.completions", true);
    const text = cutAfter(full, 4, meter);
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
    const chunks: OpenAI.Chat.ChatCompletionChunk[] = [];
    for await (const chunk of await openai(text).chat.completions.create({
      model: "gpt-4o-mini",
      messages: hi,
      stream: true,
    })) {
      chunks.push(chunk);
    }
    const withChoices = chunks.filter((c) => c.choices.length > 0);
    expect(withChoices.at(-1)?.choices[0]?.finish_reason).toBe("length");
    expect(chunks.some((c) => c.usage)).toBe(false);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe(answerText(3));
    const first = chunks[0];
    const last = chunks.at(-1);
    expect(last).toMatchObject({ id: first?.id, created: first?.created, model: "gpt-4o-mini" });
    expect(last?.system_fingerprint).toBe("fp_outlay_demo");
    expect(last?.object).toBe("chat.completion.chunk");
  });

  it("adds the usage chunk with the charged usage when the client asked for include_usage", async () => {
    const full = await chatStream();
    const meter = openaiStreamMeter("chat.completions", false);
    const text = cutAfter(full, 4, meter);
    const chunks: OpenAI.Chat.ChatCompletionChunk[] = [];
    for await (const chunk of await openai(text).chat.completions.create({
      model: "gpt-4o-mini",
      messages: hi,
      stream: true,
      stream_options: { include_usage: true },
    })) {
      chunks.push(chunk);
    }
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage).toMatchObject({
      prompt_tokens: 12,
      completion_tokens: 3,
      total_tokens: 15,
      prompt_tokens_details: { cached_tokens: 4 },
      completion_tokens_details: { reasoning_tokens: 0 },
    });
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe("length");
    // The cut chunks carry `usage: null` (include_usage is on); so does the finish chunk.
    expect(chunks.at(-2)?.usage).toBeNull();
  });

  it("works with the stream helper: finalChatCompletion has the truncated text and the usage", async () => {
    const full = await chatStream();
    const meter = openaiStreamMeter("chat.completions", false);
    const stream = openai(cutAfter(full, 4, meter)).chat.completions.stream({
      model: "gpt-4o-mini",
      messages: hi,
      stream_options: { include_usage: true },
    });
    const completion = await stream.finalChatCompletion();
    expect(completion.choices).toHaveLength(1);
    expect(completion.choices[0]).toMatchObject({
      index: 0,
      finish_reason: "length",
      message: { role: "assistant", content: answerText(3) },
    });
    expect(completion.usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 3 });
  });

  it("ends a tool call cut in its arguments", async () => {
    const tools = [
      {
        type: "function" as const,
        function: { name: "get_weather", parameters: { type: "object", properties: { location: { type: "string" } } } },
      },
    ];
    const full = await upstream(
      "/openai/v1/chat/completions",
      { model: "gpt-4o-mini", messages: hi, tools, stream: true },
      OPENAI_AUTH,
    );
    // the chunk opening the call + 2 argument fragments ({" and location)
    const text = cutAfter(full, 3, openaiStreamMeter("chat.completions", true));
    const completion = await openai(text)
      .chat.completions.stream({ model: "gpt-4o-mini", messages: hi, tools })
      .finalChatCompletion();
    expect(completion.choices[0]?.finish_reason).toBe("length");
    expect(completion.choices[0]?.message.tool_calls?.[0]).toMatchObject({
      type: "function",
      function: { name: "get_weather", arguments: '{"location' },
    });
  });

  it("ends a stream cut before its first event", async () => {
    const meter = openaiStreamMeter("chat.completions", false);
    const text = meter.finish(CHARGED);
    expectCompleteEvents(text);
    const completion = await openai(text)
      .chat.completions.stream({ model: "gpt-4o-mini", messages: hi, stream_options: { include_usage: true } })
      .finalChatCompletion();
    expect(completion).toMatchObject({ id: "chatcmpl-outlay-cut", object: "chat.completion" });
    expect(completion.choices[0]).toMatchObject({
      finish_reason: "length",
      message: { role: "assistant", content: "" },
    });
    expect(completion.usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 3 });
  });

  it("adds nothing to a stream that already ended", async () => {
    const full = await chatStream();
    const meter = openaiStreamMeter("chat.completions", true);
    for (const block of splitEvents(full)) meter.onEvent(block.event, block.data);
    expect(meter.sawEnd()).toBe(true);
    expect(meter.finish(CHARGED)).toBe("");
  });
});

describe("OpenAI legacy completions", () => {
  // The demo upstream has no /completions: one chunk in OpenAI's text_completion shape.
  const chunk = {
    id: "cmpl-demo1",
    object: "text_completion",
    created: 1_700_000_000,
    choices: [{ text: "Hello", index: 0, logprobs: null, finish_reason: null }],
    model: "gpt-3.5-turbo-instruct",
  };
  const client = (text: string) =>
    new OpenAI({ apiKey: "x", baseURL: "http://x/v1", fetch: sseFetch(text), maxRetries: 0 });

  async function collect(text: string): Promise<OpenAI.Completions.Completion[]> {
    const chunks: OpenAI.Completions.Completion[] = [];
    const stream = await client(text).completions.create({
      model: "gpt-3.5-turbo-instruct",
      prompt: "hi",
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const c of stream) chunks.push(c);
    return chunks;
  }

  it("ends a cut stream with a text_completion chunk (finish_reason length) and the usage chunk", async () => {
    const text = cutAfter(`data: ${JSON.stringify(chunk)}\n\n`, 1, openaiStreamMeter("completions", false));
    const chunks = await collect(text);
    expect(chunks).toHaveLength(3);
    expect(chunks[1]).toMatchObject({
      id: "cmpl-demo1",
      object: "text_completion",
      created: 1_700_000_000,
      model: "gpt-3.5-turbo-instruct",
      choices: [{ text: "", index: 0, finish_reason: "length" }],
    });
    expect(chunks[2]).toMatchObject({ choices: [], usage: { prompt_tokens: 12, completion_tokens: 3 } });
  });

  it("ends a stream cut before its first event", async () => {
    const chunks = await collect(openaiStreamMeter("completions", false).finish(CHARGED));
    expect(chunks[0]).toMatchObject({ id: "cmpl-outlay-cut", object: "text_completion" });
    expect(chunks[0]?.choices[0]?.finish_reason).toBe("length");
  });
});

describe("OpenAI Responses", () => {
  const openai = (text: string) =>
    new OpenAI({ apiKey: "x", baseURL: "http://x/v1", fetch: sseFetch(text), maxRetries: 0 });
  const responsesStream = (extra: Record<string, unknown> = {}, model = "gpt-4o-mini") =>
    upstream("/openai/v1/responses", { model, input: "hi", stream: true, ...extra }, OPENAI_AUTH);

  it("ends a cut stream with response.incomplete (max_output_tokens) holding the output so far", async () => {
    const full = await responsesStream();
    // created, in_progress, output_item.added, content_part.added + 3 text deltas
    const meter = openaiStreamMeter("responses", false);
    const text = cutAfter(full, 7, meter);
    const types: string[] = [];
    const stream = openai(text).responses.stream({ model: "gpt-4o-mini", input: "hi" });
    stream.on("event", (event) => types.push(event.type));
    const response = await stream.finalResponse();
    expect(types.slice(-4)).toEqual([
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.incomplete",
    ]);
    expect(response.status).toBe("incomplete");
    expect(response.incomplete_details).toEqual({ reason: "max_output_tokens" });
    expect(response.output_text).toBe(answerText(3));
    expect(response.output[0]).toMatchObject({ type: "message", status: "incomplete", role: "assistant" });
    expect(response.model).toBe("gpt-4o-mini");
    expect(response.usage).toMatchObject({
      input_tokens: 12,
      input_tokens_details: { cached_tokens: 4 },
      output_tokens: 3,
      total_tokens: 15,
    });
    const created = JSON.parse(splitEvents(full)[0]?.data ?? "{}") as { response: { id: string; created_at: number } };
    expect(response.id).toBe(created.response.id);
    expect(response.created_at).toBe(created.response.created_at);
  });

  it("keeps the sequence numbers going and the event stream iterable to the end", async () => {
    const full = await responsesStream();
    const text = cutAfter(full, 7, openaiStreamMeter("responses", false));
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const event of await openai(text).responses.create({
      model: "gpt-4o-mini",
      input: "hi",
      stream: true,
    })) {
      events.push(event);
    }
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events.at(-1)?.type).toBe("response.incomplete");
  });

  it("ends a reasoning model's stream cut inside its message (reasoning item kept)", async () => {
    const full = await responsesStream({}, "gpt-5-mini");
    // created, in_progress, reasoning added + done, message added, part added, 2 deltas
    const text = cutAfter(full, 8, openaiStreamMeter("responses", false));
    const response = await openai(text).responses.stream({ model: "gpt-5-mini", input: "hi" }).finalResponse();
    expect(response.status).toBe("incomplete");
    expect(response.output.map((item) => item.type)).toEqual(["reasoning", "message"]);
    expect(response.output_text).toBe(answerText(2));
  });

  it("ends a function call cut in its arguments", async () => {
    const tools = [
      {
        type: "function" as const,
        name: "get_weather",
        parameters: { type: "object", properties: { location: { type: "string" } } },
        strict: false,
      },
    ];
    const full = await responsesStream({ tools });
    // created, in_progress, function_call added + 2 argument fragments
    const text = cutAfter(full, 5, openaiStreamMeter("responses", false));
    const response = await openai(text).responses.stream({ model: "gpt-4o-mini", input: "hi", tools }).finalResponse();
    expect(response.status).toBe("incomplete");
    expect(response.output[0]).toMatchObject({
      type: "function_call",
      name: "get_weather",
      arguments: '{"location',
      status: "incomplete",
    });
  });

  it("ends a stream cut before its first event (response.created, then response.incomplete)", async () => {
    const text = openaiStreamMeter("responses", false).finish(CHARGED);
    expectCompleteEvents(text);
    const response = await openai(text).responses.stream({ model: "gpt-4o-mini", input: "hi" }).finalResponse();
    expect(response).toMatchObject({ id: "resp_outlay_cut", status: "incomplete", output: [] });
    expect(response.usage?.output_tokens).toBe(3);
  });

  it("adds nothing to a stream that already ended", async () => {
    const full = await responsesStream();
    const meter = openaiStreamMeter("responses", false);
    for (const block of splitEvents(full)) meter.onEvent(block.event, block.data);
    expect(meter.finish(CHARGED)).toBe("");
  });
});

describe("Anthropic messages", () => {
  const anthropic = (text: string) =>
    new Anthropic({ apiKey: "x", baseURL: "http://x", fetch: sseFetch(text), maxRetries: 0 });
  const params = { model: "claude-haiku-4-5", max_tokens: 100, messages: hi };
  const messagesStream = (extra: Record<string, unknown> = {}) =>
    upstream("/anthropic/v1/messages", { ...params, stream: true, ...extra }, ANTHROPIC_AUTH);

  it("closes the open block and ends with stop_reason max_tokens and the charged usage", async () => {
    const full = await messagesStream();
    // message_start, content_block_start, ping, 3 text deltas
    const meter = anthropicStreamMeter();
    const text = cutAfter(full, 6, meter);
    expect(
      splitEvents(text)
        .map((e) => e.event)
        .slice(-3),
    ).toEqual(["content_block_stop", "message_delta", "message_stop"]);
    const message = await anthropic(text).messages.stream(params).finalMessage();
    expect(message.stop_reason).toBe("max_tokens");
    expect(message.content).toEqual([{ type: "text", text: answerText(3) }]);
    expect(message.usage).toMatchObject({
      input_tokens: 6,
      cache_read_input_tokens: 4,
      cache_creation_input_tokens: 2,
      output_tokens: 3,
    });
    expect(message.model).toBe("claude-haiku-4-5");
    expect(message.id).toMatch(/^msg_01/);
  });

  it("closes an open thinking block the same way", async () => {
    const full = await messagesStream({ thinking: { type: "enabled", budget_tokens: 1024 } });
    // message_start, content_block_start (thinking), ping, 2 thinking deltas
    const text = cutAfter(full, 5, anthropicStreamMeter());
    const message = await anthropic(text).messages.stream(params).finalMessage();
    expect(message.stop_reason).toBe("max_tokens");
    expect(message.content[0]?.type).toBe("thinking");
    expect(message.content).toHaveLength(1);
  });

  it("closes no block when none is open", async () => {
    const full = await messagesStream();
    const text = cutAfter(full, 1, anthropicStreamMeter());
    expect(splitEvents(text).map((e) => e.event)).toEqual(["message_start", "message_delta", "message_stop"]);
    const message = await anthropic(text).messages.stream(params).finalMessage();
    expect(message).toMatchObject({ stop_reason: "max_tokens", content: [], usage: { output_tokens: 3 } });
  });

  it("adds only message_stop after the provider's own message_delta", async () => {
    const full = await messagesStream();
    const events = splitEvents(full);
    const meter = anthropicStreamMeter();
    const text = cutAfter(full, events.length - 1, meter);
    expect(meter.finish(CHARGED)).toBe('event: message_stop\ndata: {"type":"message_stop"}\n\n');
    const message = await anthropic(text).messages.stream(params).finalMessage();
    expect(message.stop_reason).toBe("end_turn");
  });

  it("ends a stream cut before its first event", async () => {
    const text = anthropicStreamMeter().finish(CHARGED);
    expectCompleteEvents(text);
    const message = await anthropic(text).messages.stream(params).finalMessage();
    expect(message).toMatchObject({
      id: "msg_outlay_cut",
      role: "assistant",
      stop_reason: "max_tokens",
      content: [],
      usage: { input_tokens: 6, output_tokens: 3 },
    });
  });

  it("adds nothing to a stream that already ended", async () => {
    const full = await messagesStream();
    const meter = anthropicStreamMeter();
    for (const block of splitEvents(full)) meter.onEvent(block.event, block.data);
    expect(meter.finish(CHARGED)).toBe("");
  });
});

describe("Gemini streamGenerateContent", () => {
  const model = "gemini-2.0-flash";
  const gemini = (text: string) =>
    new GoogleGenAI({ apiKey: "x", httpOptions: { baseUrl: "http://x", fetch: sseFetch(text) } });
  const geminiStream = () =>
    upstream(
      `/google/v1beta/models/${model}:streamGenerateContent?alt=sse`,
      { contents: [{ role: "user", parts: [{ text: "hi" }] }] },
      GOOGLE_AUTH,
    );

  async function collect(text: string): Promise<GenerateContentResponse[]> {
    const chunks: GenerateContentResponse[] = [];
    for await (const chunk of await gemini(text).models.generateContentStream({ model, contents: "hi" })) {
      chunks.push(chunk);
    }
    return chunks;
  }

  it("ends a cut stream with finishReason MAX_TOKENS and the charged usageMetadata", async () => {
    const full = await geminiStream();
    const text = cutAfter(full, 3, googleStreamMeter());
    expect(text.endsWith("\r\n\r\n")).toBe(true);
    const chunks = await collect(text);
    expect(chunks).toHaveLength(4);
    const last = chunks.at(-1);
    expect(last?.candidates?.[0]?.finishReason).toBe("MAX_TOKENS");
    expect(chunks.map((c) => c.text ?? "").join("")).toBe(answerText(3));
    expect(last?.usageMetadata).toEqual({
      promptTokenCount: 12,
      candidatesTokenCount: 3,
      totalTokenCount: 15,
      cachedContentTokenCount: 4,
    });
    expect(last?.modelVersion).toBe(model);
    expect(last?.responseId).toBe(chunks[0]?.responseId);
  });

  it("keeps the answer in a chat session's history", async () => {
    const full = await geminiStream();
    const chat = gemini(cutAfter(full, 3, googleStreamMeter())).chats.create({ model });
    for await (const chunk of await chat.sendMessageStream({ message: "hi" })) expect(chunk).toBeDefined();
    // An ending chunk without parts would make the SDK drop the answer for an empty model turn.
    const [user, ...answer] = chat.getHistory();
    expect(user?.role).toBe("user");
    expect(answer.every((content) => content.role === "model")).toBe(true);
    expect(
      answer
        .flatMap((content) => content.parts ?? [])
        .map((part) => part.text ?? "")
        .join(""),
    ).toBe(answerText(3));
  });

  it("reports thoughts beside the candidates", async () => {
    const text = googleStreamMeter().finish({ ...CHARGED, cachedInputTokens: 0, outputTokens: 10, reasoningTokens: 7 });
    const chunks = await collect(text);
    expect(chunks[0]?.usageMetadata).toEqual({
      promptTokenCount: 12,
      candidatesTokenCount: 3,
      thoughtsTokenCount: 7,
      totalTokenCount: 22,
    });
  });

  it("ends a stream cut before its first event", async () => {
    const text = googleStreamMeter().finish(CHARGED);
    expectCompleteEvents(text);
    const chunks = await collect(text);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]?.candidates?.[0]).toMatchObject({ finishReason: "MAX_TOKENS", index: 0 });
  });

  it("adds nothing to a stream that already ended", async () => {
    const full = await geminiStream();
    const meter = googleStreamMeter();
    for (const block of splitEvents(full)) meter.onEvent(block.event, block.data);
    expect(meter.finish(CHARGED)).toBe("");
  });
});
