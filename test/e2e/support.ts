// Shared helpers of the SDK end-to-end tests: the upstream's own record of a call (filed under a
// test id header the gateway forwards: the per-test view of test/helpers.ts), the expected usage from the provider's native usage object
// (implemented here from the providers' documented semantics, not imported from the gateway),
// and the checks every recorded usage event gets: token counts, cost, one event per call.
import { env } from "cloudflare:workers";
import { expect, vi } from "vitest";
import { answerDeltas } from "../../demo/upstream/tokens.ts";
import { priceCall } from "../../shared/pricing.ts";
import { type TokenUsage, usageEventsOf } from "../../shared/usage.ts";
import { eventsOf, TEST_ID_HEADER, upstreamCalls, waitForEvent, workerFetch, type EventRow } from "../helpers.ts";

export const GATEWAY = "http://outlay.test";
export const REQUEST_ID_HEADER = "x-outlay-request-id";
/** Forwarded to the upstream like any client header; the demo upstream files calls under it. */
export const CALL_HEADER = TEST_ID_HEADER;

/** A unique tag for one call, sent as CALL_HEADER, to find the call in the upstream's log. */
export function newCallTag(): string {
  return `call-${crypto.randomUUID()}`;
}

export function tagHeaders(tag: string, extra: Record<string, string> = {}): Record<string, string> {
  return { [CALL_HEADER]: tag, ...extra };
}

// ---- transport recording --------------------------------------------------------------------

export type Exchange = {
  url: string;
  method: string;
  /** Bytes of the request body as it left the SDK. */
  requestBytes: number;
  requestBody: string;
  status: number;
  headers: Headers;
};

export type Recorder = { fetch: typeof fetch; exchanges: Exchange[]; last(): Exchange };

/** workerFetch that also notes each request body and response head (transport only). */
export function recordingFetch(): Recorder {
  const exchanges: Exchange[] = [];
  const recorded: typeof fetch = async (input, init) => {
    const request = new Request(input, init);
    const requestBody = request.body ? await request.clone().text() : "";
    const response = await workerFetch(request);
    exchanges.push({
      url: request.url,
      method: request.method,
      requestBytes: new TextEncoder().encode(requestBody).byteLength,
      requestBody,
      status: response.status,
      headers: response.headers,
    });
    return response;
  };
  return {
    fetch: recorded,
    exchanges,
    last() {
      const exchange = exchanges[exchanges.length - 1];
      if (!exchange) throw new Error("no request was made through the recording fetch");
      return exchange;
    },
  };
}

export function requestIdOf(headers: Headers | Record<string, string> | null | undefined): string {
  const value = headers instanceof Headers ? headers.get(REQUEST_ID_HEADER) : headers?.[REQUEST_ID_HEADER];
  expect(value, `${REQUEST_ID_HEADER} on the response`).toMatch(/^req_[a-z2-7]{21}$/);
  return value ?? "";
}

// ---- the upstream's record ----------------------------------------------------------------

export type NativeUsage = Record<string, unknown>;

export type DemoRecord = {
  id: string;
  provider: string;
  method: string;
  path: string;
  model: string | null;
  stream: boolean;
  scenario: string | null;
  status: number;
  usage: NativeUsage | null;
  completed: boolean;
  outputChunks: number;
  keyPresent: boolean;
  headers: Record<string, string>;
};

/** The upstream's record of the call tagged `tag` (exactly one must exist). */
export async function demoRecord(tag: string): Promise<DemoRecord> {
  const until = Date.now() + 5_000;
  for (;;) {
    const found: DemoRecord[] = await upstreamCalls(tag);
    if (found.length > 1) throw new Error(`the upstream saw ${found.length} requests tagged ${tag}`);
    const record = found[0];
    if (record) return record;
    if (Date.now() > until) throw new Error(`the upstream has no request tagged ${tag}`);
    await sleep(50);
  }
}

/** The native usage object the upstream sent; fails when it sent none. */
export function sentUsage(record: DemoRecord): NativeUsage {
  expect(record.usage, `usage the upstream sent for ${record.path}`).not.toBeNull();
  return record.usage ?? {};
}

function field(obj: NativeUsage, path: string, required: boolean): number {
  let value: unknown = obj;
  for (const part of path.split(".")) {
    value = typeof value === "object" && value !== null ? (value as Record<string, unknown>)[part] : undefined;
  }
  if (value === undefined && !required) return 0;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new Error(`native usage field ${path} is not a token count: ${JSON.stringify(obj)}`);
  }
  return value;
}

/** OpenAI Chat Completions / Embeddings usage. */
export function fromOpenAiChat(usage: NativeUsage): TokenUsage {
  return {
    inputTokens: field(usage, "prompt_tokens", true),
    cachedInputTokens: field(usage, "prompt_tokens_details.cached_tokens", false),
    cacheWriteTokens: 0,
    outputTokens: field(usage, "completion_tokens", false),
    reasoningTokens: field(usage, "completion_tokens_details.reasoning_tokens", false),
  };
}

/** OpenAI Responses API usage. */
export function fromOpenAiResponses(usage: NativeUsage): TokenUsage {
  return {
    inputTokens: field(usage, "input_tokens", true),
    cachedInputTokens: field(usage, "input_tokens_details.cached_tokens", false),
    cacheWriteTokens: 0,
    outputTokens: field(usage, "output_tokens", true),
    reasoningTokens: field(usage, "output_tokens_details.reasoning_tokens", false),
  };
}

/** Anthropic: input_tokens excludes cache reads and writes, so the whole prompt is their sum. */
export function fromAnthropic(usage: NativeUsage): TokenUsage {
  const input = field(usage, "input_tokens", true);
  const read = field(usage, "cache_read_input_tokens", false);
  const write = field(usage, "cache_creation_input_tokens", false);
  return {
    inputTokens: input + read + write,
    cachedInputTokens: read,
    cacheWriteTokens: write,
    outputTokens: field(usage, "output_tokens", true),
    reasoningTokens: 0,
  };
}

/** Gemini: promptTokenCount includes cached tokens; thoughts are billed as output beside candidates. */
export function fromGemini(usage: NativeUsage): TokenUsage {
  const thoughts = field(usage, "thoughtsTokenCount", false);
  return {
    inputTokens: field(usage, "promptTokenCount", true) + field(usage, "toolUsePromptTokenCount", false),
    cachedInputTokens: field(usage, "cachedContentTokenCount", false),
    cacheWriteTokens: 0,
    outputTokens: field(usage, "candidatesTokenCount", false) + thoughts,
    reasoningTokens: thoughts,
  };
}

// ---- the recorded event ---------------------------------------------------------------------

export function usageOf(event: EventRow): TokenUsage {
  return {
    inputTokens: event.input_tokens,
    cachedInputTokens: event.cached_input_tokens,
    cacheWriteTokens: event.cache_write_tokens,
    outputTokens: event.output_tokens,
    reasoningTokens: event.reasoning_tokens,
  };
}

export type ExpectedEvent = {
  provider: string;
  model: string;
  endpoint: string;
  stream: boolean;
  status: number;
  outcome: string;
  usageSource: "provider" | "estimated" | "none";
};

export function expectEventShape(event: EventRow, expected: ExpectedEvent): void {
  expect({
    provider: event.provider,
    model: event.model,
    endpoint: event.endpoint,
    stream: event.stream,
    status: event.status,
    outcome: event.outcome,
    usage_source: event.usage_source,
  }).toEqual({
    provider: expected.provider,
    model: expected.model,
    endpoint: expected.endpoint,
    stream: expected.stream ? 1 : 0,
    status: expected.status,
    outcome: expected.outcome,
    usage_source: expected.usageSource,
  });
}

export function expectUsage(event: EventRow, expected: TokenUsage): void {
  expect(usageOf(event)).toEqual(expected);
}

/** cost_nano_usd is exactly what priceCall computes for the recorded tokens at the call's start. */
export function expectCatalogCost(event: EventRow): void {
  const usage = usageOf(event);
  const priced = priceCall(
    event.provider as string,
    event.model as string,
    usage,
    [],
    new Date(event.started_at as number),
  );
  expect(priced, `${String(event.provider)}:${String(event.model)} is in the price catalog`).not.toBeNull();
  expect(event.cost_nano_usd).toBe(priced?.costNanoUsd);
  expect(event.unpriced).toBe(0);
  expect(JSON.parse(String(event.price))).toEqual(priced?.price);
  if (usage.inputTokens + usage.outputTokens > 0) expect(event.cost_nano_usd).toBeGreaterThan(0);
}

/** An upstream error: no tokens, no cost. */
export function expectNoUsage(event: EventRow): void {
  expectUsage(event, {
    inputTokens: 0,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    outputTokens: 0,
    reasoningTokens: 0,
  });
  expect(event.cost_nano_usd).toBe(0);
}

/** Estimate the gateway makes for text it never got usage for: four characters a token. */
export function tokensForChars(chars: number): number {
  return Math.ceil(chars / 4);
}

/** The first `pieces` words of the demo upstream's canned answer, as it streams them. */
export function cannedAnswer(pieces: number): string {
  return answerDeltas(pieces).join("");
}

// ---- exactly one event ----------------------------------------------------------------------

export type QueueSpy = {
  messages: unknown[];
  /** The message bodies as sent (a pack as the pack). */
  bodies: unknown[];
  /** Queue messages sent (a pack counts once). */
  readonly sent: number;
  sendsFor(requestId: string): number;
  restore(): void;
};

/**
 * Records the usage events the gateway puts on the usage queue (a pack as its events) and
 * passes them on. Kept in our own list: vitest clears a spy's call history before each test.
 */
export function spyOnUsageQueue(): QueueSpy {
  const queue = env.USAGE_QUEUE;
  const send = queue.send.bind(queue);
  const sendBatch = queue.sendBatch.bind(queue);
  const messages: unknown[] = [];
  const bodies: unknown[] = [];
  // A packed message (several events of one organisation) is recorded as its events.
  let sent = 0;
  const record = (body: unknown) => {
    sent += 1;
    bodies.push(body);
    messages.push(...(usageEventsOf(body) ?? [body]));
  };
  const spy = vi.spyOn(queue, "send").mockImplementation((message, options) => {
    record(message);
    return send(message, options);
  });
  const batchSpy = vi.spyOn(queue, "sendBatch").mockImplementation((batch, options) => {
    for (const m of batch) record(m.body);
    return sendBatch(batch, options);
  });
  return {
    messages,
    bodies,
    get sent() {
      return sent;
    },
    sendsFor(requestId) {
      return messages.filter(
        (message) =>
          typeof message === "object" &&
          message !== null &&
          (message as { requestId?: unknown }).requestId === requestId,
      ).length;
    },
    restore() {
      spy.mockRestore();
      batchSpy.mockRestore();
    },
  };
}

/** Longer than the queue consumer's batch timeout (1 s), so a late second event would show. */
const SETTLE_MS = 1_500;

/**
 * Waits for the event of `requestId`, lets the queue settle, and checks it stayed the only event
 * of the tenant and was sent to the queue exactly once.
 */
export async function expectSingleEvent(tenantId: string, requestId: string, queue: QueueSpy): Promise<EventRow> {
  const event = await waitForEvent(tenantId, requestId);
  await sleep(SETTLE_MS);
  const all = await eventsOf(tenantId);
  expect(all.map((e) => e.request_id)).toEqual([requestId]);
  expect(queue.sendsFor(requestId)).toBe(1);
  return event;
}

// ---- time -----------------------------------------------------------------------------------

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class Hang extends Error {}

/** Resolves with `work`'s outcome, or fails the test when it has not settled within `ms`. */
export async function settlesWithin<T>(
  ms: number,
  what: string,
  work: Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Hang(`${what} did not settle within ${ms} ms`)), ms);
  });
  try {
    return { ok: true, value: await Promise.race([work, hang]) };
  } catch (error) {
    if (error instanceof Hang) throw error;
    return { ok: false, error };
  } finally {
    clearTimeout(timer);
  }
}

/** A prompt of `chars` characters (the demo counts ceil(chars / 4) input tokens). */
export function promptOf(chars: number, seed = "Outlay meters every call. "): string {
  return seed.repeat(Math.ceil(chars / seed.length)).slice(0, chars);
}
