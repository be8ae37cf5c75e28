// Usage from Gemini `usageMetadata`: promptTokenCount includes cachedContentTokenCount;
// thoughtsTokenCount is billed as output but not part of candidatesTokenCount, so it is added.
// In streams every chunk may carry usageMetadata; the last one seen is the call's usage.
// A stream the gateway cuts short ends the way Gemini ends one at maxOutputTokens: a chunk with
// finishReason "MAX_TOKENS" for each candidate and the charged usageMetadata.
import type { TokenUsage } from "../../../../shared/usage.ts";
import { count, isObject, type JsonObject, type StreamMeter } from "../types.ts";

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

/** usageMetadata for what the call is charged: prompt includes cached, thoughts beside candidates. */
function wireUsage(usage: TokenUsage): JsonObject {
  const candidates = Math.max(0, usage.outputTokens - usage.reasoningTokens);
  return {
    promptTokenCount: usage.inputTokens,
    ...(candidates > 0 ? { candidatesTokenCount: candidates } : {}),
    totalTokenCount: usage.inputTokens + usage.outputTokens,
    ...(usage.cachedInputTokens > 0 ? { cachedContentTokenCount: usage.cachedInputTokens } : {}),
    ...(usage.reasoningTokens > 0 ? { thoughtsTokenCount: usage.reasoningTokens } : {}),
  };
}

export function googleStreamMeter(): StreamMeter {
  let usage: TokenUsage | null = null;
  let finished = false;
  let chars = 0;
  let modelVersion: string | null = null;
  let responseId: string | null = null;
  /** Candidate indices seen, for one MAX_TOKENS candidate each in the ending. */
  const candidates = new Set<number>();
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
      if (typeof parsed.modelVersion === "string") modelVersion = parsed.modelVersion;
      if (typeof parsed.responseId === "string") responseId = parsed.responseId;
      if (Array.isArray(parsed.candidates)) {
        for (const [position, candidate] of parsed.candidates.entries()) {
          if (!isObject(candidate)) continue;
          candidates.add(typeof candidate.index === "number" ? candidate.index : position);
          if (candidate.finishReason) finished = true;
        }
      }
      return true;
    },
    usage: () => (finished ? usage : null),
    outputChars: () => chars,
    partialUsage: () => usage,
    sawEnd: () => finished,
    finish(charged) {
      if (finished) return "";
      const indices = candidates.size > 0 ? [...candidates].sort((a, b) => a - b) : [0];
      // An empty text part, not a content without parts: @google/genai's chat session keeps a
      // turn in its history only when every chunk has a part.
      const content = { parts: [{ text: "" }], role: "model" };
      const chunk = {
        candidates: indices.map((index) => ({ content, finishReason: "MAX_TOKENS", index })),
        usageMetadata: wireUsage(charged),
        ...(modelVersion === null ? {} : { modelVersion }),
        ...(responseId === null ? {} : { responseId }),
      };
      return `data: ${JSON.stringify(chunk)}\r\n\r\n`;
    },
  };
}
