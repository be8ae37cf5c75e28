// Usage from Anthropic messages: `usage` on the JSON message; in streams `message_start`
// carries input and cache counts, `message_delta` the cumulative output (and, in newer API
// versions, final input counts). input_tokens excludes cache reads and writes, so they are added.
// A stream the gateway cuts short ends the way Anthropic ends one at max_tokens: content_block_stop
// for the block still open, message_delta (stop_reason "max_tokens", usage), message_stop.
import type { TokenUsage } from "../../../../shared/usage.ts";
import { count, isObject, type JsonObject, type StreamMeter } from "../types.ts";

type Parts = { input: number; cacheRead: number; cacheWrite: number; output: number };

function merge(parts: Parts, raw: JsonObject): void {
  if ("input_tokens" in raw) parts.input = count(raw.input_tokens);
  if ("cache_read_input_tokens" in raw) parts.cacheRead = count(raw.cache_read_input_tokens);
  if ("cache_creation_input_tokens" in raw) parts.cacheWrite = count(raw.cache_creation_input_tokens);
  if ("output_tokens" in raw) parts.output = count(raw.output_tokens);
}

function toUsage(parts: Parts): TokenUsage {
  return {
    inputTokens: parts.input + parts.cacheRead + parts.cacheWrite,
    cachedInputTokens: parts.cacheRead,
    cacheWriteTokens: parts.cacheWrite,
    outputTokens: parts.output,
    reasoningTokens: 0,
  };
}

export function meterAnthropicJson(_endpoint: string, body: unknown): TokenUsage | null {
  if (!isObject(body) || !isObject(body.usage)) return null;
  const parts = { input: 0, cacheRead: 0, cacheWrite: 0, output: 0 };
  merge(parts, body.usage);
  return toUsage(parts);
}

/** Anthropic usage fields (input_tokens excludes cache reads and writes) for what the call is charged. */
function wireUsage(usage: TokenUsage): JsonObject {
  return {
    input_tokens: Math.max(0, usage.inputTokens - usage.cachedInputTokens - usage.cacheWriteTokens),
    cache_creation_input_tokens: usage.cacheWriteTokens,
    cache_read_input_tokens: usage.cachedInputTokens,
    output_tokens: usage.outputTokens,
  };
}

function sse(event: string, data: JsonObject): string {
  return `event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`;
}

/** The message_start of a stream cut before its own: the SDKs need one before anything else. */
function startEvent(usage: TokenUsage): string {
  const message = {
    id: "msg_outlay_cut",
    type: "message",
    role: "assistant",
    model: "",
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: { ...wireUsage(usage), output_tokens: 0 },
  };
  return sse("message_start", { message });
}

const PARSED = new Set([
  "message_start",
  "message_delta",
  "content_block_start",
  "content_block_delta",
  "content_block_stop",
]);

export function anthropicStreamMeter(): StreamMeter {
  const parts = { input: 0, cacheRead: 0, cacheWrite: 0, output: 0 };
  let sawStart = false;
  let started = false;
  let finished = false;
  let sawDelta = false;
  let stopped = false;
  let chars = 0;
  /** Content blocks started and not yet stopped, by index. */
  const open = new Set<number>();
  return {
    onEvent(event, data) {
      if (event === "message_stop") stopped = true;
      if (!event || !PARSED.has(event)) return true;
      let parsed: unknown;
      try {
        parsed = JSON.parse(data);
      } catch {
        return true;
      }
      if (!isObject(parsed)) return true;
      if (event === "content_block_delta" && isObject(parsed.delta)) {
        const delta = parsed.delta;
        for (const field of ["text", "thinking", "partial_json"] as const) {
          const value = delta[field];
          if (typeof value === "string") chars += value.length;
        }
      } else if (event === "content_block_start" && typeof parsed.index === "number") {
        open.add(parsed.index);
      } else if (event === "content_block_stop" && typeof parsed.index === "number") {
        open.delete(parsed.index);
      } else if (event === "message_start") {
        sawStart = true;
        if (isObject(parsed.message) && isObject(parsed.message.usage)) {
          merge(parts, parsed.message.usage);
          started = true;
        }
      } else if (event === "message_delta") {
        sawDelta = true;
        if (isObject(parsed.usage)) {
          merge(parts, parsed.usage);
          finished = true;
        }
      }
      return true;
    },
    usage: () => (finished ? toUsage(parts) : null),
    outputChars: () => chars,
    partialUsage: () => (started ? toUsage(parts) : null),
    sawEnd: () => stopped,
    finish(usage) {
      if (stopped) return "";
      let out = sawStart ? "" : startEvent(usage);
      for (const index of [...open].sort((a, b) => a - b)) out += sse("content_block_stop", { index });
      if (!sawDelta) {
        const delta = { stop_reason: "max_tokens", stop_sequence: null };
        out += sse("message_delta", { delta, usage: wireUsage(usage) });
      }
      return out + sse("message_stop", {});
    },
  };
}
