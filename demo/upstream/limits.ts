// The output-limit fields a request carried, for the request log: numbers (and the thinking
// mode) only, never content, so tests can see which limit reached the upstream.
import { type JsonObject, isRecord } from "./input-text.ts";

/** Output-limit fields by provider, as dotted paths into the request body. */
export const LIMIT_FIELDS = {
  chat: ["max_tokens", "max_completion_tokens"],
  responses: ["max_output_tokens"],
  anthropic: ["max_tokens", "thinking.type", "thinking.budget_tokens"],
  google: ["generationConfig.maxOutputTokens", "generationConfig.thinkingConfig.thinkingBudget"],
} as const;

/** The fields of `paths` the body carries as a number, or a short string (the thinking type). */
export function outputLimits(body: JsonObject, paths: readonly string[]): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const path of paths) {
    let value: unknown = body;
    for (const part of path.split(".")) value = isRecord(value) ? value[part] : undefined;
    if (typeof value === "number" || (typeof value === "string" && value.length <= 16)) out[path] = value;
  }
  return out;
}
