// The official `@anthropic-ai/sdk` against Outlay with only its base URL changed. Anthropic's
// input_tokens excludes cache reads and writes; Outlay's input_tokens is the whole prompt (their
// sum), with the cache parts beside it, so cache reads and writes are priced at their own rates.
//
// The tests run concurrently: each makes its own tenant and client (setup) and reads only its own
// tenant's events and its own request ids, so none can see another's. Most of a test's time is
// the usage queue's batch and the settle wait after it (expectSingleEvent), which overlap.
import Anthropic, { APIUserAbortError, InternalServerError, RateLimitError } from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CUT_AFTER_DELTAS } from "../../demo/upstream/sse.ts";
import { newTenant, waitForEvent, type Tenant } from "../helpers.ts";
import {
  cannedAnswer,
  demoRecord,
  expectCatalogCost,
  expectEventShape,
  expectNoUsage,
  expectSingleEvent,
  expectUsage,
  fromAnthropic,
  GATEWAY,
  newCallTag,
  promptOf,
  recordingFetch,
  requestIdOf,
  sentUsage,
  settlesWithin,
  spyOnUsageQueue,
  tagHeaders,
  tokensForChars,
  type QueueSpy,
  type Recorder,
} from "./support.ts";

let queue: QueueSpy;

beforeAll(() => {
  queue = spyOnUsageQueue();
});
afterAll(() => {
  queue.restore();
});

/** Each test's own tenant, and an SDK client whose every exchange is recorded: the tests run
 * concurrently (see the top of the file), so nothing of one test is kept where another reads. */
async function setup(): Promise<{ tenant: Tenant; recorder: Recorder; client: Anthropic }> {
  const tenant = await newTenant();
  const recorder = recordingFetch();
  const client = new Anthropic({
    apiKey: tenant.proxyKey,
    baseURL: `${GATEWAY}/anthropic`,
    fetch: recorder.fetch,
    maxRetries: 0,
  });
  return { tenant, recorder, client };
}

const WEATHER_TOOL: Anthropic.Messages.Tool = {
  name: "get_weather",
  description: "Current weather for a city",
  input_schema: { type: "object", properties: { location: { type: "string" } }, required: ["location"] },
};

function textOf(message: Anthropic.Messages.Message): string {
  return message.content.flatMap((block) => (block.type === "text" ? [block.text] : [])).join("");
}

describe.concurrent("messages", () => {
  it("non-streaming: the SDK gets the message; the event has the upstream's usage, priced", async () => {
    const { tenant, client } = await setup();
    const tag = newCallTag();
    const { data, response } = await client.messages
      .create(
        {
          model: "claude-haiku-4-5",
          max_tokens: 256,
          messages: [{ role: "user", content: "Say something about spend control." }],
        },
        { headers: tagHeaders(tag) },
      )
      .withResponse();
    expect(data.type).toBe("message");
    expect(textOf(data)).toBe(cannedAnswer(24));
    expect(data.stop_reason).toBe("end_turn");

    const event = await waitForEvent(tenant.tenantId, requestIdOf(response.headers));
    const native = sentUsage(await demoRecord(tag));
    expect(data.usage).toEqual(native);
    expectEventShape(event, {
      provider: "anthropic",
      model: "claude-haiku-4-5",
      endpoint: "messages",
      stream: false,
      status: 200,
      outcome: "ok",
      usageSource: "provider",
    });
    expectUsage(event, fromAnthropic(native));
    expectCatalogCost(event);
    expect(event.key_id).toBe(tenant.keyId);
  });

  it("non-streaming with a cache read and a cache write: input is the sum, the parts are kept apart", async () => {
    const { tenant, client } = await setup();
    const tag = newCallTag();
    const { data, response } = await client.messages
      .create(
        {
          model: "claude-sonnet-4-6",
          max_tokens: 256,
          system: [{ type: "text", text: promptOf(480), cache_control: { type: "ephemeral" } }],
          messages: [{ role: "user", content: promptOf(120, "A question. ") }],
        },
        { headers: tagHeaders(tag, { "x-demo-cached-tokens": "80", "x-demo-cache-write-tokens": "40" }) },
      )
      .withResponse();
    expect(data.usage.cache_read_input_tokens).toBe(80);
    expect(data.usage.cache_creation_input_tokens).toBe(40);

    const event = await waitForEvent(tenant.tenantId, requestIdOf(response.headers));
    const native = sentUsage(await demoRecord(tag));
    // 600 characters = 150 prompt tokens: 30 uncached + 80 read + 40 written.
    expect(native).toMatchObject({ input_tokens: 30, cache_read_input_tokens: 80, cache_creation_input_tokens: 40 });
    expectEventShape(event, {
      provider: "anthropic",
      model: "claude-sonnet-4-6",
      endpoint: "messages",
      stream: false,
      status: 200,
      outcome: "ok",
      usageSource: "provider",
    });
    expectUsage(event, fromAnthropic(native));
    expect(event).toMatchObject({ input_tokens: 150, cached_input_tokens: 80, cache_write_tokens: 40 });
    expectCatalogCost(event);
  });

  it("streaming with messages.stream() + finalMessage(), thinking and a cache read", async () => {
    const { tenant, client } = await setup();
    const tag = newCallTag();
    const stream = client.messages.stream(
      {
        model: "claude-sonnet-4-6",
        max_tokens: 2048,
        thinking: { type: "enabled", budget_tokens: 1024 },
        messages: [{ role: "user", content: promptOf(400) }],
      },
      { headers: tagHeaders(tag, { "x-demo-cached-tokens": "60", "x-demo-reasoning-tokens": "20" }) },
    );
    let text = "";
    let thinking = "";
    stream.on("text", (delta) => {
      text += delta;
    });
    stream.on("thinking", (delta) => {
      thinking += delta;
    });
    const final = await stream.finalMessage();
    const { response } = await stream.withResponse();
    expect(text).toBe(cannedAnswer(24));
    expect(textOf(final)).toBe(text);
    expect(thinking.split(" ")).toHaveLength(20);
    expect(final.content[0]?.type).toBe("thinking");
    expect(final.stop_reason).toBe("end_turn");

    const event = await waitForEvent(tenant.tenantId, requestIdOf(response.headers));
    const upstream = await demoRecord(tag);
    expect(upstream.completed).toBe(true);
    const native = sentUsage(upstream);
    expect(final.usage.output_tokens).toBe(native.output_tokens);
    // Thinking is billed as output: 20 thinking + 24 text tokens.
    expect(fromAnthropic(native)).toMatchObject({ inputTokens: 100, cachedInputTokens: 60, outputTokens: 44 });
    expectEventShape(event, {
      provider: "anthropic",
      model: "claude-sonnet-4-6",
      endpoint: "messages",
      stream: true,
      status: 200,
      outcome: "ok",
      usageSource: "provider",
    });
    expectUsage(event, fromAnthropic(native));
    expectCatalogCost(event);
  });
});

describe.concurrent("tool calls", () => {
  it("non-streaming: the SDK returns the tool_use block with its parsed input", async () => {
    const { tenant, client } = await setup();
    const tag = newCallTag();
    const { data, response } = await client.messages
      .create(
        {
          model: "claude-haiku-4-5",
          max_tokens: 256,
          tools: [WEATHER_TOOL],
          messages: [{ role: "user", content: "What is the weather in Paris?" }],
        },
        { headers: tagHeaders(tag) },
      )
      .withResponse();
    expect(data.stop_reason).toBe("tool_use");
    const use = data.content.find((block) => block.type === "tool_use");
    if (use?.type !== "tool_use") throw new Error("expected a tool_use block");
    expect(use.name).toBe("get_weather");
    expect(use.input).toEqual({ location: "Paris" });

    const event = await waitForEvent(tenant.tenantId, requestIdOf(response.headers));
    const native = sentUsage(await demoRecord(tag));
    expectEventShape(event, {
      provider: "anthropic",
      model: "claude-haiku-4-5",
      endpoint: "messages",
      stream: false,
      status: 200,
      outcome: "ok",
      usageSource: "provider",
    });
    expectUsage(event, fromAnthropic(native));
    expectCatalogCost(event);
  });

  it("streaming: input_json_delta fragments assemble into the tool input", async () => {
    const { tenant, recorder, client } = await setup();
    const tag = newCallTag();
    const stream = client.messages.stream(
      {
        model: "claude-haiku-4-5",
        max_tokens: 256,
        tools: [WEATHER_TOOL],
        tool_choice: { type: "tool", name: "get_weather" },
        messages: [{ role: "user", content: "Weather in Paris, streamed." }],
      },
      { headers: tagHeaders(tag) },
    );
    const final = await stream.finalMessage();
    const use = final.content.find((block) => block.type === "tool_use");
    if (use?.type !== "tool_use") throw new Error("expected a tool_use block");
    expect(use.input).toEqual({ location: "Paris" });
    expect(final.stop_reason).toBe("tool_use");

    const event = await waitForEvent(tenant.tenantId, requestIdOf(recorder.last().headers));
    const native = sentUsage(await demoRecord(tag));
    expectEventShape(event, {
      provider: "anthropic",
      model: "claude-haiku-4-5",
      endpoint: "messages",
      stream: true,
      status: 200,
      outcome: "ok",
      usageSource: "provider",
    });
    expectUsage(event, fromAnthropic(native));
    expect(event.output_tokens).toBeGreaterThan(0);
    expectCatalogCost(event);
  });
});

describe.concurrent("upstream errors", () => {
  it("429: the SDK raises RateLimitError with Anthropic's error body and Outlay's request id", async () => {
    const { tenant, client } = await setup();
    const tag = newCallTag();
    const error = await client.messages
      .create(
        { model: "claude-haiku-4-5@rate_limit", max_tokens: 64, messages: [{ role: "user", content: "hi" }] },
        { headers: tagHeaders(tag) },
      )
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(RateLimitError);
    if (!(error instanceof RateLimitError)) throw new Error("expected RateLimitError");
    const upstream = await demoRecord(tag);
    expect(error.status).toBe(429);
    expect(error.error).toEqual({
      type: "error",
      error: { type: "rate_limit_error", message: "Demo rate limit (scenario rate_limit). Retry after 1 second." },
      request_id: upstream.id,
    });
    expect(error.requestID).toBe(upstream.id);
    expect(upstream.usage).toBeNull();

    const event = await waitForEvent(tenant.tenantId, requestIdOf(error.headers));
    expectEventShape(event, {
      provider: "anthropic",
      model: "claude-haiku-4-5@rate_limit",
      endpoint: "messages",
      stream: false,
      status: 429,
      outcome: "upstream_error",
      usageSource: "none",
    });
    expectNoUsage(event);
  });

  it("500 on a stream: the SDK raises InternalServerError with the body intact", async () => {
    const { tenant, client } = await setup();
    const tag = newCallTag();
    const stream = client.messages.stream(
      { model: "claude-haiku-4-5", max_tokens: 64, messages: [{ role: "user", content: "hi" }] },
      { headers: tagHeaders(tag, { "x-demo-scenario": "server_error" }) },
    );
    const error = await stream.finalMessage().then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InternalServerError);
    if (!(error instanceof InternalServerError)) throw new Error("expected InternalServerError");
    const upstream = await demoRecord(tag);
    expect(error.status).toBe(500);
    expect(error.error).toEqual({
      type: "error",
      error: { type: "api_error", message: "Demo server error (scenario server_error)." },
      request_id: upstream.id,
    });

    const event = await waitForEvent(tenant.tenantId, requestIdOf(error.headers));
    expectEventShape(event, {
      provider: "anthropic",
      model: "claude-haiku-4-5",
      endpoint: "messages",
      stream: true,
      status: 500,
      outcome: "upstream_error",
      usageSource: "none",
    });
    expectNoUsage(event);
  });
});

describe.concurrent("broken streams", () => {
  it("a cut stream rejects finalMessage(); one upstream_cut event keeps what message_start reported", async () => {
    const { tenant, recorder, client } = await setup();
    const tag = newCallTag();
    const stream = client.messages.stream(
      {
        model: "claude-sonnet-4-6",
        max_tokens: 256,
        messages: [{ role: "user", content: promptOf(400) }],
      },
      { headers: tagHeaders(tag, { "x-demo-scenario": "cut", "x-demo-cached-tokens": "50" }) },
    );
    let text = "";
    stream.on("text", (delta) => {
      text += delta;
    });
    const settled = await settlesWithin(8_000, "finalMessage() of the cut stream", stream.finalMessage());
    expect(settled.ok).toBe(false);

    const requestId = requestIdOf(recorder.last().headers);
    const event = await expectSingleEvent(tenant.tenantId, requestId, queue);
    const upstream = await demoRecord(tag);
    expect(upstream.completed).toBe(false);
    expect(upstream.outputChunks).toBe(CUT_AFTER_DELTAS);
    // The last usage the upstream sent is message_start's: input and cache counts are real.
    const started = fromAnthropic(sentUsage(upstream));
    expect(started).toMatchObject({ inputTokens: 100, cachedInputTokens: 50 });
    const delivered = cannedAnswer(upstream.outputChunks);
    expect(delivered.startsWith(text)).toBe(true);
    expectEventShape(event, {
      provider: "anthropic",
      model: "claude-sonnet-4-6",
      endpoint: "messages",
      stream: true,
      status: 200,
      outcome: "upstream_cut",
      usageSource: "estimated",
    });
    expectUsage(event, {
      inputTokens: started.inputTokens,
      cachedInputTokens: started.cachedInputTokens,
      cacheWriteTokens: started.cacheWriteTokens,
      outputTokens: tokensForChars(delivered.length),
      reasoningTokens: 0,
    });
    expectCatalogCost(event);
  });

  it("a client that aborts mid-stream leaves exactly one client_abort event", async () => {
    const { tenant, recorder, client } = await setup();
    const tag = newCallTag();
    const controller = new AbortController();
    const stream = client.messages.stream(
      {
        model: "claude-haiku-4-5",
        max_tokens: 256,
        messages: [{ role: "user", content: "A slow stream I will abandon." }],
      },
      { headers: tagHeaders(tag, { "x-demo-delay-ms": "100" }), signal: controller.signal },
    );
    let text = "";
    let deltas = 0;
    stream.on("text", (delta) => {
      text += delta;
      deltas += 1;
      if (deltas === 2) controller.abort();
    });
    const settled = await settlesWithin(8_000, "finalMessage() of the aborted stream", stream.finalMessage());
    expect(settled).toMatchObject({ ok: false, error: expect.any(APIUserAbortError) });
    expect(deltas).toBe(2);

    const requestId = requestIdOf(recorder.last().headers);
    const event = await expectSingleEvent(tenant.tenantId, requestId, queue);
    const upstream = await demoRecord(tag);
    expect(upstream.completed).toBe(false);
    expect(upstream.outputChunks).toBeLessThan(24);
    const started = fromAnthropic(sentUsage(upstream));
    expectEventShape(event, {
      provider: "anthropic",
      model: "claude-haiku-4-5",
      endpoint: "messages",
      stream: true,
      status: 200,
      outcome: "client_abort",
      usageSource: "estimated",
    });
    expect(event.input_tokens).toBe(started.inputTokens);
    expect(event.output_tokens).toBeGreaterThanOrEqual(tokensForChars(text.length));
    expect(event.output_tokens).toBeLessThanOrEqual(tokensForChars(cannedAnswer(upstream.outputChunks).length));
    expectCatalogCost(event);
  });
});
