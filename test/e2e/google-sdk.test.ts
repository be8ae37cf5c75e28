// The official `@google/genai` SDK against Outlay with only its base URL changed (and its own
// `httpOptions.fetch` hook as transport into the Worker under test). Gemini's promptTokenCount
// includes cached tokens; thoughts are billed as output beside candidatesTokenCount.
//
// The tests run concurrently: each makes its own tenant and client (setup) and reads only its own
// tenant's events and its own request ids, so none can see another's. Most of a test's time is
// the usage queue's batch and the settle wait after it (expectSingleEvent), which overlap.
import { ApiError, GoogleGenAI, Type, type GenerateContentResponse } from "@google/genai";
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
  fromGemini,
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
async function setup(): Promise<{ tenant: Tenant; recorder: Recorder; ai: GoogleGenAI }> {
  const tenant = await newTenant();
  const recorder = recordingFetch();
  const ai = new GoogleGenAI({
    apiKey: tenant.proxyKey,
    httpOptions: { baseUrl: `${GATEWAY}/google`, fetch: recorder.fetch },
  });
  return { tenant, recorder, ai };
}

const WEATHER_TOOL = {
  functionDeclarations: [
    {
      name: "get_weather",
      description: "Current weather for a city",
      parameters: { type: Type.OBJECT, properties: { location: { type: Type.STRING } }, required: ["location"] },
    },
  ],
};

async function collect(stream: AsyncGenerator<GenerateContentResponse>): Promise<GenerateContentResponse[]> {
  const chunks: GenerateContentResponse[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

function apiErrorBody(error: ApiError): unknown {
  return JSON.parse(error.message) as unknown;
}

describe.concurrent("generateContent", () => {
  it("non-streaming: the SDK gets the text; the event has the upstream's usage, priced", async () => {
    const { tenant, recorder, ai } = await setup();
    const tag = newCallTag();
    const response = await ai.models.generateContent({
      model: "gemini-2.0-flash",
      contents: "Say something about spend control.",
      config: { httpOptions: { headers: tagHeaders(tag) } },
    });
    expect(response.text).toBe(cannedAnswer(24));
    expect(response.candidates?.[0]?.finishReason).toBe("STOP");
    // The SDK's own view of the response headers carries Outlay's request id.
    const requestId = requestIdOf(response.sdkHttpResponse?.headers);
    expect(requestId).toBe(recorder.last().headers.get("x-outlay-request-id"));
    // The key reached Outlay where the SDK puts it, never in the URL.
    expect(new URL(recorder.last().url).searchParams.has("key")).toBe(false);

    const event = await waitForEvent(tenant.tenantId, requestId);
    const native = sentUsage(await demoRecord(tag));
    expect(response.usageMetadata).toEqual(native);
    expectEventShape(event, {
      provider: "google",
      model: "gemini-2.0-flash",
      endpoint: "generateContent",
      stream: false,
      status: 200,
      outcome: "ok",
      usageSource: "provider",
    });
    expectUsage(event, fromGemini(native));
    expectCatalogCost(event);
    expect(event.key_id).toBe(tenant.keyId);
  });

  it("Gemini 2.5 with thoughts and cached content: thoughts are output and reasoning, cache is part of input", async () => {
    const { tenant, ai } = await setup();
    const tag = newCallTag();
    const response = await ai.models.generateContent({
      model: "gemini-2.5-flash",
      contents: [{ role: "user", parts: [{ text: promptOf(480) }] }],
      config: {
        systemInstruction: "Answer briefly.",
        thinkingConfig: { thinkingBudget: 512 },
        httpOptions: { headers: tagHeaders(tag, { "x-demo-cached-tokens": "64", "x-demo-reasoning-tokens": "24" }) },
      },
    });
    expect(response.usageMetadata?.thoughtsTokenCount).toBe(24);
    expect(response.usageMetadata?.cachedContentTokenCount).toBe(64);

    const event = await waitForEvent(tenant.tenantId, requestIdOf(response.sdkHttpResponse?.headers));
    const native = sentUsage(await demoRecord(tag));
    // 480 + 15 characters = 124 prompt tokens, 64 of them cached; 24 answer + 24 thought tokens.
    expect(fromGemini(native)).toEqual({
      inputTokens: 124,
      cachedInputTokens: 64,
      cacheWriteTokens: 0,
      outputTokens: 48,
      reasoningTokens: 24,
    });
    expectEventShape(event, {
      provider: "google",
      model: "gemini-2.5-flash",
      endpoint: "generateContent",
      stream: false,
      status: 200,
      outcome: "ok",
      usageSource: "provider",
    });
    expectUsage(event, fromGemini(native));
    expectCatalogCost(event);
  });

  it("generateContentStream (Gemini 2.5 Pro, thoughts + cached): the last chunk's usage is metered", async () => {
    const { tenant, recorder, ai } = await setup();
    const tag = newCallTag();
    const chunks = await collect(
      await ai.models.generateContentStream({
        model: "gemini-2.5-pro",
        contents: promptOf(320),
        config: { httpOptions: { headers: tagHeaders(tag, { "x-demo-cached-tokens": "32" }) } },
      }),
    );
    expect(chunks.map((c) => c.text ?? "").join("")).toBe(cannedAnswer(24));
    const last = chunks.at(-1);
    expect(last?.candidates?.[0]?.finishReason).toBe("STOP");
    expect(new URL(recorder.last().url).searchParams.get("alt")).toBe("sse");

    const event = await waitForEvent(tenant.tenantId, requestIdOf(last?.sdkHttpResponse?.headers));
    const upstream = await demoRecord(tag);
    expect(upstream.completed).toBe(true);
    const native = sentUsage(upstream);
    expect(last?.usageMetadata).toEqual(native);
    expect(fromGemini(native)).toMatchObject({ cachedInputTokens: 32, reasoningTokens: 16, outputTokens: 40 });
    expectEventShape(event, {
      provider: "google",
      model: "gemini-2.5-pro",
      endpoint: "streamGenerateContent",
      stream: true,
      status: 200,
      outcome: "ok",
      usageSource: "provider",
    });
    expectUsage(event, fromGemini(native));
    expectCatalogCost(event);
  });
});

describe.concurrent("tool calls", () => {
  it("non-streaming: the SDK exposes the function call with its args", async () => {
    const { tenant, ai } = await setup();
    const tag = newCallTag();
    const response = await ai.models.generateContent({
      model: "gemini-2.5-flash",
      contents: "What is the weather in Paris?",
      config: { tools: [WEATHER_TOOL], httpOptions: { headers: tagHeaders(tag) } },
    });
    expect(response.functionCalls).toEqual([{ name: "get_weather", args: { location: "Paris" } }]);

    const event = await waitForEvent(tenant.tenantId, requestIdOf(response.sdkHttpResponse?.headers));
    const native = sentUsage(await demoRecord(tag));
    expectEventShape(event, {
      provider: "google",
      model: "gemini-2.5-flash",
      endpoint: "generateContent",
      stream: false,
      status: 200,
      outcome: "ok",
      usageSource: "provider",
    });
    expectUsage(event, fromGemini(native));
    expectCatalogCost(event);
  });

  it("streaming: the function call arrives in a chunk the SDK parses", async () => {
    const { tenant, recorder, ai } = await setup();
    const tag = newCallTag();
    const chunks = await collect(
      await ai.models.generateContentStream({
        model: "gemini-2.0-flash",
        contents: "Weather in Paris, streamed.",
        config: { tools: [WEATHER_TOOL], httpOptions: { headers: tagHeaders(tag) } },
      }),
    );
    const calls = chunks.flatMap((c) => c.functionCalls ?? []);
    expect(calls).toEqual([{ name: "get_weather", args: { location: "Paris" } }]);

    const event = await waitForEvent(tenant.tenantId, requestIdOf(recorder.last().headers));
    const native = sentUsage(await demoRecord(tag));
    expectEventShape(event, {
      provider: "google",
      model: "gemini-2.0-flash",
      endpoint: "streamGenerateContent",
      stream: true,
      status: 200,
      outcome: "ok",
      usageSource: "provider",
    });
    expectUsage(event, fromGemini(native));
    expect(event.output_tokens).toBeGreaterThan(0);
    expectCatalogCost(event);
  });
});

describe.concurrent("upstream errors", () => {
  it("429: the SDK raises ApiError with Google's error body; Outlay's request id is on the response", async () => {
    const { tenant, recorder, ai } = await setup();
    const tag = newCallTag();
    const error = await ai.models
      .generateContent({
        model: "gemini-2.5-flash@rate_limit",
        contents: "hi",
        config: { httpOptions: { headers: tagHeaders(tag) } },
      })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(ApiError);
    if (!(error instanceof ApiError)) throw new Error("expected ApiError");
    expect(error.status).toBe(429);
    expect(apiErrorBody(error)).toEqual({
      error: {
        code: 429,
        message: "Demo rate limit (scenario rate_limit). Retry after 1 second.",
        status: "RESOURCE_EXHAUSTED",
      },
    });
    // demoRecord also proves the SDK did not retry: exactly one upstream request has this tag.
    const upstream = await demoRecord(tag);
    expect(upstream.status).toBe(429);
    expect(recorder.exchanges).toHaveLength(1);

    const event = await waitForEvent(tenant.tenantId, requestIdOf(recorder.last().headers));
    expectEventShape(event, {
      provider: "google",
      model: "gemini-2.5-flash@rate_limit",
      endpoint: "generateContent",
      stream: false,
      status: 429,
      outcome: "upstream_error",
      usageSource: "none",
    });
    expectNoUsage(event);
  });

  it("500 on a stream: the SDK raises ApiError with the body intact", async () => {
    const { tenant, recorder, ai } = await setup();
    const tag = newCallTag();
    const error = await ai.models
      .generateContentStream({
        model: "gemini-2.5-flash",
        contents: "hi",
        config: { httpOptions: { headers: tagHeaders(tag, { "x-demo-scenario": "server_error" }) } },
      })
      .then(
        () => null,
        (e: unknown) => e,
      );
    expect(error).toBeInstanceOf(ApiError);
    if (!(error instanceof ApiError)) throw new Error("expected ApiError");
    expect(error.status).toBe(500);
    expect(apiErrorBody(error)).toEqual({
      error: { code: 500, message: "Demo server error (scenario server_error).", status: "INTERNAL" },
    });
    expect((await demoRecord(tag)).status).toBe(500);

    const event = await waitForEvent(tenant.tenantId, requestIdOf(recorder.last().headers));
    expectEventShape(event, {
      provider: "google",
      model: "gemini-2.5-flash",
      endpoint: "streamGenerateContent",
      stream: true,
      status: 500,
      outcome: "upstream_error",
      usageSource: "none",
    });
    expectNoUsage(event);
  });
});

describe.concurrent("broken streams", () => {
  it("a cut stream ends in an error at the SDK; one upstream_cut event keeps the prompt counts reported", async () => {
    const { tenant, recorder, ai } = await setup();
    const tag = newCallTag();
    const stream = await ai.models.generateContentStream({
      model: "gemini-2.5-flash",
      contents: promptOf(400),
      config: { httpOptions: { headers: tagHeaders(tag, { "x-demo-scenario": "cut", "x-demo-cached-tokens": "40" }) } },
    });
    const requestId = requestIdOf(recorder.last().headers);
    let text = "";
    let finished = false;
    const consumed = await settlesWithin(
      8_000,
      "reading the cut stream",
      (async () => {
        for await (const chunk of stream) {
          text += chunk.text ?? "";
          if (chunk.candidates?.[0]?.finishReason) finished = true;
        }
      })(),
    );
    expect(consumed.ok).toBe(false);
    expect(finished).toBe(false);

    const event = await expectSingleEvent(tenant.tenantId, requestId, queue);
    const upstream = await demoRecord(tag);
    expect(upstream.completed).toBe(false);
    expect(upstream.outputChunks).toBe(CUT_AFTER_DELTAS);
    // Each chunk carried cumulative usageMetadata; the last one sent before the cut:
    const partial = fromGemini(sentUsage(upstream));
    expect(partial).toMatchObject({ inputTokens: 100, cachedInputTokens: 40 });
    const delivered = cannedAnswer(upstream.outputChunks);
    expect(delivered.startsWith(text)).toBe(true);
    expectEventShape(event, {
      provider: "google",
      model: "gemini-2.5-flash",
      endpoint: "streamGenerateContent",
      stream: true,
      status: 200,
      outcome: "upstream_cut",
      usageSource: "estimated",
    });
    // What the provider reported before the cut is kept (input, cached, output with thoughts so
    // far); output is never less than the text that passed.
    const outputTokens = Math.max(partial.outputTokens, tokensForChars(delivered.length));
    expect(partial.reasoningTokens).toBeGreaterThan(0);
    expectUsage(event, {
      inputTokens: partial.inputTokens,
      cachedInputTokens: partial.cachedInputTokens,
      cacheWriteTokens: 0,
      outputTokens,
      reasoningTokens: Math.min(partial.reasoningTokens, outputTokens),
    });
    expectCatalogCost(event);
  });

  it("a client that aborts mid-stream leaves exactly one client_abort event", async () => {
    const { tenant, recorder, ai } = await setup();
    const tag = newCallTag();
    const controller = new AbortController();
    const stream = await ai.models.generateContentStream({
      model: "gemini-2.0-flash",
      contents: "A slow stream I will abandon.",
      config: {
        abortSignal: controller.signal,
        httpOptions: { headers: tagHeaders(tag, { "x-demo-delay-ms": "100" }) },
      },
    });
    const requestId = requestIdOf(recorder.last().headers);
    let text = "";
    let chunks = 0;
    const consumed = await settlesWithin(
      8_000,
      "reading the aborted stream",
      (async () => {
        for await (const chunk of stream) {
          text += chunk.text ?? "";
          chunks += 1;
          if (chunks === 2) controller.abort();
        }
      })(),
    );
    // The SDK raises the abort from the iteration at once; it does not read on.
    expect(consumed).toMatchObject({ ok: false, error: { name: "AbortError" } });
    expect(chunks).toBe(2);

    const event = await expectSingleEvent(tenant.tenantId, requestId, queue);
    const upstream = await demoRecord(tag);
    expect(upstream.completed).toBe(false);
    expect(upstream.outputChunks).toBeLessThan(24);
    const partial = fromGemini(sentUsage(upstream));
    expectEventShape(event, {
      provider: "google",
      model: "gemini-2.0-flash",
      endpoint: "streamGenerateContent",
      stream: true,
      status: 200,
      outcome: "client_abort",
      usageSource: "estimated",
    });
    expect(event.input_tokens).toBe(partial.inputTokens);
    expect(event.output_tokens).toBeGreaterThanOrEqual(tokensForChars(text.length));
    expect(event.output_tokens).toBeLessThanOrEqual(tokensForChars(cannedAnswer(upstream.outputChunks).length));
    expectCatalogCost(event);
  });
});
