// The official `openai` SDK against Outlay with only its base URL changed: every call works as it
// would against api.openai.com, and each leaves exactly one usage event whose tokens are the ones
// the upstream reported (or, when the upstream never reported any, the documented estimate) and
// whose cost is what priceCall computes.
//
// The tests run concurrently: each makes its own tenant and client (setup) and reads only its own
// tenant's events and its own request ids, so none can see another's. Most of a test's time is
// the usage queue's batch and the settle wait after it (expectSingleEvent), which overlap.
import OpenAI, { InternalServerError, RateLimitError } from "openai";
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
  fromOpenAiChat,
  fromOpenAiResponses,
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
async function setup(): Promise<{ tenant: Tenant; recorder: Recorder; client: OpenAI }> {
  const tenant = await newTenant();
  const recorder = recordingFetch();
  const client = new OpenAI({
    apiKey: tenant.proxyKey,
    baseURL: `${GATEWAY}/openai/v1`,
    fetch: recorder.fetch,
    maxRetries: 0,
  });
  return { tenant, recorder, client };
}

const WEATHER_TOOL: OpenAI.Chat.Completions.ChatCompletionFunctionTool = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Current weather for a city",
    parameters: { type: "object", properties: { location: { type: "string" } }, required: ["location"] },
  },
};

describe.concurrent("chat completions", () => {
  it("non-streaming: the SDK gets the completion; the event has the upstream's usage, priced", async () => {
    const { tenant, client } = await setup();
    const tag = newCallTag();
    const { data, response } = await client.chat.completions
      .create(
        { model: "gpt-4o-mini", messages: [{ role: "user", content: "Say something about spend control." }] },
        { headers: tagHeaders(tag) },
      )
      .withResponse();
    expect(data.object).toBe("chat.completion");
    expect(data.choices[0]?.message.content).toBe(cannedAnswer(24));
    const requestId = requestIdOf(response.headers);

    const event = await waitForEvent(tenant.tenantId, requestId);
    const upstream = await demoRecord(tag);
    const native = sentUsage(upstream);
    // The client sees the provider's usage object untouched.
    expect(data.usage).toEqual(native);
    expectEventShape(event, {
      provider: "openai",
      model: "gpt-4o-mini",
      endpoint: "chat.completions",
      stream: false,
      status: 200,
      outcome: "ok",
      usageSource: "provider",
    });
    expectUsage(event, fromOpenAiChat(native));
    expectCatalogCost(event);
    expect(event.key_id).toBe(tenant.keyId);
  });

  it("non-streaming reasoning model with cached input: reasoning and cached tokens recorded", async () => {
    const { tenant, client } = await setup();
    const tag = newCallTag();
    const { data, response } = await client.chat.completions
      .create(
        { model: "o3-mini", messages: [{ role: "user", content: promptOf(480) }], reasoning_effort: "medium" },
        { headers: tagHeaders(tag, { "x-demo-reasoning-tokens": "40", "x-demo-cached-tokens": "64" }) },
      )
      .withResponse();
    expect(data.usage?.completion_tokens_details?.reasoning_tokens).toBe(40);
    expect(data.usage?.prompt_tokens_details?.cached_tokens).toBe(64);

    const event = await waitForEvent(tenant.tenantId, requestIdOf(response.headers));
    const native = sentUsage(await demoRecord(tag));
    expect(fromOpenAiChat(native)).toMatchObject({ inputTokens: 120, cachedInputTokens: 64, reasoningTokens: 40 });
    expectEventShape(event, {
      provider: "openai",
      model: "o3-mini",
      endpoint: "chat.completions",
      stream: false,
      status: 200,
      outcome: "ok",
      usageSource: "provider",
    });
    expectUsage(event, fromOpenAiChat(native));
    expectCatalogCost(event);
  });

  it("also works on the short /v1 route (baseURL http://host/v1)", async () => {
    const { tenant, recorder } = await setup();
    const short = new OpenAI({
      apiKey: tenant.proxyKey,
      baseURL: `${GATEWAY}/v1`,
      fetch: recorder.fetch,
      maxRetries: 0,
    });
    const tag = newCallTag();
    const { data, response } = await short.chat.completions
      .create({ model: "gpt-4o", messages: [{ role: "user", content: "hello" }] }, { headers: tagHeaders(tag) })
      .withResponse();
    expect(data.choices[0]?.finish_reason).toBe("stop");
    const event = await waitForEvent(tenant.tenantId, requestIdOf(response.headers));
    const native = sentUsage(await demoRecord(tag));
    expectEventShape(event, {
      provider: "openai",
      model: "gpt-4o",
      endpoint: "chat.completions",
      stream: false,
      status: 200,
      outcome: "ok",
      usageSource: "provider",
    });
    expectUsage(event, fromOpenAiChat(native));
    expectCatalogCost(event);
  });

  it("streaming without include_usage: the client never sees the usage chunk Outlay asked for, yet usage is metered", async () => {
    const { tenant, recorder, client } = await setup();
    const tag = newCallTag();
    const { data: stream, response } = await client.chat.completions
      .create(
        { model: "gpt-4o-mini", messages: [{ role: "user", content: "Stream a short answer." }], stream: true },
        { headers: tagHeaders(tag, { "x-demo-cached-tokens": "2" }) },
      )
      .withResponse();
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);

    // The SDK saw a complete stream: all text, a finish reason, and no usage anywhere.
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe(cannedAnswer(24));
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe("stop");
    expect(chunks.filter((c) => c.choices.length === 0)).toEqual([]);
    expect(chunks.filter((c) => c.usage !== undefined && c.usage !== null)).toEqual([]);
    // The request as the SDK sent it did not ask for usage.
    expect(JSON.parse(recorder.last().requestBody)).not.toHaveProperty("stream_options");

    const event = await waitForEvent(tenant.tenantId, requestIdOf(response.headers));
    const upstream = await demoRecord(tag);
    expect(upstream.completed).toBe(true);
    // The upstream did send a usage chunk (Outlay added include_usage on its way upstream).
    const native = sentUsage(upstream);
    expectEventShape(event, {
      provider: "openai",
      model: "gpt-4o-mini",
      endpoint: "chat.completions",
      stream: true,
      status: 200,
      outcome: "ok",
      usageSource: "provider",
    });
    expectUsage(event, fromOpenAiChat(native));
    expectCatalogCost(event);
  });

  it("streaming with include_usage (gpt-5, reasoning + cached): the client sees the usage chunk it asked for", async () => {
    const { tenant, client } = await setup();
    const tag = newCallTag();
    const { data: stream, response } = await client.chat.completions
      .create(
        {
          model: "gpt-5",
          messages: [
            { role: "system", content: "You are terse." },
            { role: "user", content: promptOf(400) },
          ],
          stream: true,
          stream_options: { include_usage: true },
        },
        { headers: tagHeaders(tag, { "x-demo-reasoning-tokens": "32", "x-demo-cached-tokens": "48" }) },
      )
      .withResponse();
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);

    const usageChunks = chunks.filter((c) => c.usage !== undefined && c.usage !== null);
    expect(usageChunks).toHaveLength(1);
    const usageChunk = usageChunks[0];
    expect(usageChunk?.choices).toEqual([]);
    expect(chunks.at(-1)).toBe(usageChunk);

    const event = await waitForEvent(tenant.tenantId, requestIdOf(response.headers));
    const native = sentUsage(await demoRecord(tag));
    expect(usageChunk?.usage).toEqual(native);
    expect(fromOpenAiChat(native)).toMatchObject({ cachedInputTokens: 48, reasoningTokens: 32 });
    expectEventShape(event, {
      provider: "openai",
      model: "gpt-5",
      endpoint: "chat.completions",
      stream: true,
      status: 200,
      outcome: "ok",
      usageSource: "provider",
    });
    expectUsage(event, fromOpenAiChat(native));
    expectCatalogCost(event);
  });
});

describe.concurrent("responses API", () => {
  it("non-streaming (gpt-5, reasoning + cached)", async () => {
    const { tenant, client } = await setup();
    const tag = newCallTag();
    const { data, response } = await client.responses
      .create(
        { model: "gpt-5", instructions: "Answer briefly.", input: promptOf(300), reasoning: { effort: "low" } },
        { headers: tagHeaders(tag, { "x-demo-reasoning-tokens": "24", "x-demo-cached-tokens": "40" }) },
      )
      .withResponse();
    expect(data.status).toBe("completed");
    expect(data.output_text).toBe(cannedAnswer(24));

    const event = await waitForEvent(tenant.tenantId, requestIdOf(response.headers));
    const native = sentUsage(await demoRecord(tag));
    expect(data.usage).toEqual(native);
    expect(fromOpenAiResponses(native)).toMatchObject({ cachedInputTokens: 40, reasoningTokens: 24 });
    expectEventShape(event, {
      provider: "openai",
      model: "gpt-5",
      endpoint: "responses",
      stream: false,
      status: 200,
      outcome: "ok",
      usageSource: "provider",
    });
    expectUsage(event, fromOpenAiResponses(native));
    expectCatalogCost(event);
  });

  it("streaming: typed events end in response.completed carrying the usage that was metered", async () => {
    const { tenant, client } = await setup();
    const tag = newCallTag();
    const { data: stream, response } = await client.responses
      .create(
        { model: "o3-mini", input: "Stream please.", stream: true },
        { headers: tagHeaders(tag, { "x-demo-reasoning-tokens": "12" }) },
      )
      .withResponse();
    let text = "";
    let completed: OpenAI.Responses.Response | null = null;
    for await (const event of stream) {
      if (event.type === "response.output_text.delta") text += event.delta;
      if (event.type === "response.completed") completed = event.response;
    }
    expect(text).toBe(cannedAnswer(24));
    expect(completed?.status).toBe("completed");

    const event = await waitForEvent(tenant.tenantId, requestIdOf(response.headers));
    const native = sentUsage(await demoRecord(tag));
    expect(completed?.usage).toEqual(native);
    expect(fromOpenAiResponses(native).reasoningTokens).toBe(12);
    expectEventShape(event, {
      provider: "openai",
      model: "o3-mini",
      endpoint: "responses",
      stream: true,
      status: 200,
      outcome: "ok",
      usageSource: "provider",
    });
    expectUsage(event, fromOpenAiResponses(native));
    expectCatalogCost(event);
  });
});

describe.concurrent("embeddings", () => {
  it("the SDK decodes the vectors; prompt tokens are metered with no output", async () => {
    const { tenant, client } = await setup();
    const tag = newCallTag();
    const { data, response } = await client.embeddings
      .create(
        { model: "text-embedding-3-small", input: ["first text to embed", promptOf(200)] },
        { headers: tagHeaders(tag) },
      )
      .withResponse();
    expect(data.data).toHaveLength(2);
    expect(data.data[0]?.embedding).toHaveLength(1536);
    expect(data.data[1]?.embedding.every((v) => Number.isFinite(v))).toBe(true);

    const event = await waitForEvent(tenant.tenantId, requestIdOf(response.headers));
    const native = sentUsage(await demoRecord(tag));
    expect(data.usage).toEqual(native);
    expectEventShape(event, {
      provider: "openai",
      model: "text-embedding-3-small",
      endpoint: "embeddings",
      stream: false,
      status: 200,
      outcome: "ok",
      usageSource: "provider",
    });
    expectUsage(event, fromOpenAiChat(native));
    expect(event.output_tokens).toBe(0);
    expectCatalogCost(event);
  });
});

describe.concurrent("tool calls", () => {
  it("non-streaming: the SDK parses the tool call", async () => {
    const { tenant, client } = await setup();
    const tag = newCallTag();
    const { data, response } = await client.chat.completions
      .create(
        {
          model: "gpt-4o-mini",
          messages: [{ role: "user", content: "What is the weather in Paris?" }],
          tools: [WEATHER_TOOL],
        },
        { headers: tagHeaders(tag) },
      )
      .withResponse();
    const choice = data.choices[0];
    expect(choice?.finish_reason).toBe("tool_calls");
    const call = choice?.message.tool_calls?.[0];
    expect(call?.type).toBe("function");
    if (call?.type !== "function") throw new Error("expected a function tool call");
    expect(call.function.name).toBe("get_weather");
    expect(JSON.parse(call.function.arguments)).toEqual({ location: "Paris" });

    const event = await waitForEvent(tenant.tenantId, requestIdOf(response.headers));
    const native = sentUsage(await demoRecord(tag));
    expectEventShape(event, {
      provider: "openai",
      model: "gpt-4o-mini",
      endpoint: "chat.completions",
      stream: false,
      status: 200,
      outcome: "ok",
      usageSource: "provider",
    });
    expectUsage(event, fromOpenAiChat(native));
    expectCatalogCost(event);
  });

  it("streaming with the SDK's stream helper: fragments assemble into the tool call", async () => {
    const { tenant, recorder, client } = await setup();
    const tag = newCallTag();
    const stream = client.chat.completions.stream(
      {
        model: "gpt-4o-mini",
        messages: [{ role: "user", content: "Weather in Paris, streamed." }],
        tools: [WEATHER_TOOL],
      },
      { headers: tagHeaders(tag) },
    );
    const final = await stream.finalChatCompletion();
    const call = final.choices[0]?.message.tool_calls?.[0];
    if (call?.type !== "function") throw new Error("expected a function tool call");
    expect(call.function.name).toBe("get_weather");
    expect(JSON.parse(call.function.arguments)).toEqual({ location: "Paris" });
    expect(final.choices[0]?.finish_reason).toBe("tool_calls");

    const event = await waitForEvent(tenant.tenantId, requestIdOf(recorder.last().headers));
    const native = sentUsage(await demoRecord(tag));
    expectEventShape(event, {
      provider: "openai",
      model: "gpt-4o-mini",
      endpoint: "chat.completions",
      stream: true,
      status: 200,
      outcome: "ok",
      usageSource: "provider",
    });
    expectUsage(event, fromOpenAiChat(native));
    expect(event.output_tokens).toBeGreaterThan(0);
    expectCatalogCost(event);
  });
});

describe.concurrent("upstream errors", () => {
  it("429: the SDK raises RateLimitError with OpenAI's error body and Outlay's request id", async () => {
    const { tenant, client } = await setup();
    const tag = newCallTag();
    const error = await client.chat.completions
      .create(
        { model: "gpt-4o-mini@rate_limit", messages: [{ role: "user", content: "hi" }] },
        { headers: tagHeaders(tag) },
      )
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(RateLimitError);
    if (!(error instanceof RateLimitError)) throw new Error("expected RateLimitError");
    expect(error.status).toBe(429);
    expect(error.error).toEqual({
      message: "Demo rate limit (scenario rate_limit). Retry after 1 second.",
      type: "requests",
      param: null,
      code: "rate_limit_exceeded",
    });
    expect(error.code).toBe("rate_limit_exceeded");
    expect(error.headers.get("retry-after")).toBe("1");
    const upstream = await demoRecord(tag);
    expect(error.requestID).toBe(upstream.id);
    expect(upstream.status).toBe(429);
    expect(upstream.usage).toBeNull();

    const event = await waitForEvent(tenant.tenantId, requestIdOf(error.headers));
    expectEventShape(event, {
      provider: "openai",
      model: "gpt-4o-mini@rate_limit",
      endpoint: "chat.completions",
      stream: false,
      status: 429,
      outcome: "upstream_error",
      usageSource: "none",
    });
    expectNoUsage(event);
  });

  it("500 on a stream request: the SDK raises InternalServerError with the body intact", async () => {
    const { tenant, client } = await setup();
    const tag = newCallTag();
    const error = await client.chat.completions
      .create(
        { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], stream: true },
        { headers: tagHeaders(tag, { "x-demo-scenario": "server_error" }) },
      )
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(InternalServerError);
    if (!(error instanceof InternalServerError)) throw new Error("expected InternalServerError");
    expect(error.status).toBe(500);
    expect(error.error).toEqual({
      message: "Demo server error (scenario server_error).",
      type: "server_error",
      param: null,
      code: null,
    });
    const upstream = await demoRecord(tag);
    expect(upstream.status).toBe(500);

    const event = await waitForEvent(tenant.tenantId, requestIdOf(error.headers));
    expectEventShape(event, {
      provider: "openai",
      model: "gpt-4o-mini",
      endpoint: "chat.completions",
      stream: true,
      status: 500,
      outcome: "upstream_error",
      usageSource: "none",
    });
    expectNoUsage(event);
  });
});

describe.concurrent("broken streams", () => {
  it("a stream cut by the upstream ends in an error at the SDK, and one upstream_cut event with estimated usage", async () => {
    const { tenant, recorder, client } = await setup();
    const tag = newCallTag();
    const { data: stream, response } = await client.chat.completions
      .create(
        { model: "gpt-4o-mini", messages: [{ role: "user", content: "This stream will be cut." }], stream: true },
        { headers: tagHeaders(tag, { "x-demo-scenario": "cut" }) },
      )
      .withResponse();
    const requestId = requestIdOf(response.headers);
    let text = "";
    let finished = false;
    const consumed = await settlesWithin(
      8_000,
      "reading the cut stream",
      (async () => {
        for await (const chunk of stream) {
          text += chunk.choices[0]?.delta.content ?? "";
          if (chunk.choices[0]?.finish_reason) finished = true;
        }
      })(),
    );
    // The SDK raised an error; it did not pretend the stream was complete.
    expect(consumed.ok).toBe(false);
    expect(finished).toBe(false);

    const event = await expectSingleEvent(tenant.tenantId, requestId, queue);
    const upstream = await demoRecord(tag);
    expect(upstream.completed).toBe(false);
    expect(upstream.usage).toBeNull();
    expect(upstream.outputChunks).toBe(CUT_AFTER_DELTAS);
    const delivered = cannedAnswer(upstream.outputChunks);
    expect(delivered.startsWith(text)).toBe(true);
    expectEventShape(event, {
      provider: "openai",
      model: "gpt-4o-mini",
      endpoint: "chat.completions",
      stream: true,
      status: 200,
      outcome: "upstream_cut",
      usageSource: "estimated",
    });
    // No usage was ever reported: input is estimated from the request body, output from the text.
    expectUsage(event, {
      inputTokens: tokensForChars(recorder.last().requestBytes),
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: tokensForChars(delivered.length),
      reasoningTokens: 0,
    });
    expectCatalogCost(event);
  });

  it("a client that aborts mid-stream leaves exactly one client_abort event", async () => {
    const { tenant, recorder, client } = await setup();
    const tag = newCallTag();
    const controller = new AbortController();
    const { data: stream, response } = await client.chat.completions
      .create(
        {
          model: "gpt-4o-mini",
          messages: [{ role: "user", content: "A slow stream I will abandon." }],
          stream: true,
          stream_options: { include_usage: true },
        },
        { headers: tagHeaders(tag, { "x-demo-delay-ms": "100" }), signal: controller.signal },
      )
      .withResponse();
    const requestId = requestIdOf(response.headers);
    let text = "";
    let contentChunks = 0;
    const consumed = await settlesWithin(
      8_000,
      "reading the aborted stream",
      (async () => {
        for await (const chunk of stream) {
          const content = chunk.choices[0]?.delta.content;
          if (content) {
            text += content;
            contentChunks += 1;
            if (contentChunks === 2) controller.abort();
          }
        }
      })(),
    );
    // The SDK ends the iteration quietly at once (it swallows its own abort).
    expect(consumed).toEqual({ ok: true, value: undefined });
    expect(contentChunks).toBe(2);

    const event = await expectSingleEvent(tenant.tenantId, requestId, queue);
    const upstream = await demoRecord(tag);
    expect(upstream.completed).toBe(false);
    expect(upstream.usage).toBeNull();
    expect(upstream.outputChunks).toBeLessThan(24);
    expectEventShape(event, {
      provider: "openai",
      model: "gpt-4o-mini",
      endpoint: "chat.completions",
      stream: true,
      status: 200,
      outcome: "client_abort",
      usageSource: "estimated",
    });
    expect(event.input_tokens).toBe(tokensForChars(recorder.last().requestBytes));
    expect(event.cached_input_tokens).toBe(0);
    expect(event.reasoning_tokens).toBe(0);
    // Output: at least what the client read, at most what the upstream delivered.
    expect(event.output_tokens).toBeGreaterThanOrEqual(tokensForChars(text.length));
    expect(event.output_tokens).toBeLessThanOrEqual(tokensForChars(cannedAnswer(upstream.outputChunks).length));
    expectCatalogCost(event);
  });
});
