// Usage from Gemini `usageMetadata`: promptTokenCount includes cachedContentTokenCount;
// thoughtsTokenCount is billed as output but not part of candidatesTokenCount, so it is added.
// In streams every chunk may carry usageMetadata; the last one seen is the call's usage.
import type { TokenUsage } from "../../../../shared/usage.ts";
import { count, isObject, type StreamMeter } from "../types.ts";

export function googleUsage(raw: unknown): TokenUsage | null {
  if (!isObject(raw)) return null;
  const thoughts = count(raw.thoughtsTokenCount);
  return {
    inputTokens: count(raw.promptTokenCount) + count(raw.toolUsePromptTokenCount),
    cachedInputTokens: count(raw.cachedContentTokenCount),
    cacheWriteTokens: 0,
    outputTokens: count(raw.candidatesTokenCount) + thoughts,
    reasoningTokens: thoughts,
  };
}

export function meterGoogleJson(_endpoint: string, body: unknown): TokenUsage | null {
  return isObject(body) ? googleUsage(body.usageMetadata) : null;
}

function textLength(candidates: unknown): number {
  if (!Array.isArray(candidates)) return 0;
  let total = 0;
  for (const candidate of candidates) {
    const content = isObject(candidate) && isObject(candidate.content) ? candidate.content : null;
    if (!content || !Array.isArray(content.parts)) continue;
    for (const part of content.parts) if (isObject(part) && typeof part.text === "string") total += part.text.length;
  }
  return total;
}

export function googleStreamMeter(): StreamMeter {
  let usage: TokenUsage | null = null;
  let finished = false;
  let chars = 0;
  return {
    onEvent(_event, data) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(data);
      } catch {
        return true;
      }
      if (!isObject(parsed)) return true;
      chars += textLength(parsed.candidates);
      usage = googleUsage(parsed.usageMetadata) ?? usage;
      if (Array.isArray(parsed.candidates) && parsed.candidates.some((c) => isObject(c) && c.finishReason)) {
        finished = true;
      }
      return true;
    },
    usage: () => (finished ? usage : null),
    outputChars: () => chars,
    partialUsage: () => usage,
    sawEnd: () => finished,
  };
}
