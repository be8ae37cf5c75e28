// Usage from OpenAI responses: chat/completions `usage` (prompt_tokens_details.cached_tokens,
// completion_tokens_details.reasoning_tokens), Responses API `response.usage`, embeddings.
import type { TokenUsage } from "../../../../shared/usage.ts";
import { count, isObject, type StreamMeter } from "../types.ts";

export function openaiUsage(raw: unknown): TokenUsage | null {
  if (!isObject(raw)) return null;
  if ("prompt_tokens" in raw || "completion_tokens" in raw) {
    const prompt = isObject(raw.prompt_tokens_details) ? raw.prompt_tokens_details : {};
    const completion = isObject(raw.completion_tokens_details) ? raw.completion_tokens_details : {};
    return {
      inputTokens: count(raw.prompt_tokens),
      cachedInputTokens: count(prompt.cached_tokens),
      cacheWriteTokens: 0,
      outputTokens: count(raw.completion_tokens),
      reasoningTokens: count(completion.reasoning_tokens),
    };
  }
  if ("input_tokens" in raw || "output_tokens" in raw) {
    const input = isObject(raw.input_tokens_details) ? raw.input_tokens_details : {};
    const output = isObject(raw.output_tokens_details) ? raw.output_tokens_details : {};
    return {
      inputTokens: count(raw.input_tokens),
      cachedInputTokens: count(input.cached_tokens),
      cacheWriteTokens: 0,
      outputTokens: count(raw.output_tokens),
      reasoningTokens: count(output.reasoning_tokens),
    };
  }
  return null;
}

export function meterOpenAiJson(endpoint: string, body: unknown): TokenUsage | null {
  if (!isObject(body)) return null;
  return endpoint === "models" ? null : openaiUsage(body.usage);
}

function textLength(choices: unknown): number {
  if (!Array.isArray(choices)) return 0;
  let total = 0;
  for (const choice of choices) {
    if (!isObject(choice)) continue;
    if (typeof choice.text === "string") total += choice.text.length;
    const delta = isObject(choice.delta) ? choice.delta : null;
    if (!delta) continue;
    if (typeof delta.content === "string") total += delta.content.length;
    if (typeof delta.reasoning_content === "string") total += delta.reasoning_content.length;
    if (Array.isArray(delta.tool_calls)) {
      for (const call of delta.tool_calls) {
        const fn = isObject(call) && isObject(call.function) ? call.function : null;
        if (fn && typeof fn.arguments === "string") total += fn.arguments.length;
      }
    }
  }
  return total;
}

const RESPONSE_DONE = new Set(["response.completed", "response.incomplete", "response.failed"]);

export function openaiStreamMeter(endpoint: string, stripUsageChunk: boolean): StreamMeter {
  let usage: TokenUsage | null = null;
  let chars = 0;
  let sawEnd = false;
  return {
    onEvent(event, data) {
      if (data === "[DONE]") {
        sawEnd = true;
        return true;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(data);
      } catch {
        return true;
      }
      if (!isObject(parsed)) return true;
      if (endpoint === "responses") {
        const type = typeof parsed.type === "string" ? parsed.type : event;
        if (type === "response.output_text.delta" && typeof parsed.delta === "string") chars += parsed.delta.length;
        if (type && RESPONSE_DONE.has(type) && isObject(parsed.response)) {
          usage = openaiUsage(parsed.response.usage) ?? usage;
          sawEnd = true;
        }
        return true;
      }
      chars += textLength(parsed.choices);
      if (isObject(parsed.usage)) {
        usage = openaiUsage(parsed.usage) ?? usage;
        const usageOnly = Array.isArray(parsed.choices) && parsed.choices.length === 0;
        if (stripUsageChunk && usageOnly) return false;
      }
      return true;
    },
    usage: () => usage,
    outputChars: () => chars,
    partialUsage: () => null,
    sawEnd: () => sawEnd,
  };
}
