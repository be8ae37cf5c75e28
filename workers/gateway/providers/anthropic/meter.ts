// Usage from Anthropic messages: `usage` on the JSON message; in streams `message_start`
// carries input and cache counts, `message_delta` the cumulative output (and, in newer API
// versions, final input counts). input_tokens excludes cache reads and writes, so they are added.
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

export function anthropicStreamMeter(): StreamMeter {
  const parts = { input: 0, cacheRead: 0, cacheWrite: 0, output: 0 };
  let started = false;
  let finished = false;
  let stopped = false;
  let chars = 0;
  return {
    onEvent(event, data) {
      if (event === "message_stop") stopped = true;
      if (event !== "message_start" && event !== "message_delta" && event !== "content_block_delta") return true;
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
      } else if (event === "message_start" && isObject(parsed.message) && isObject(parsed.message.usage)) {
        merge(parts, parsed.message.usage);
        started = true;
      } else if (event === "message_delta" && isObject(parsed.usage)) {
        merge(parts, parsed.usage);
        finished = true;
      }
      return true;
    },
    usage: () => (finished ? toUsage(parts) : null),
    outputChars: () => chars,
    partialUsage: () => (started ? toUsage(parts) : null),
    sawEnd: () => stopped,
  };
}
