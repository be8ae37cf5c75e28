// The demo upstream's usage arithmetic, as exported for tests.
import { describe, expect, it } from "vitest";
import { splitModel } from "../../demo/upstream/scenario.ts";
import {
  answerDeltas,
  argumentFragments,
  inputTokensFromTexts,
  isGeminiThinkingModel,
  isOpenAIReasoningModel,
  planOutput,
  thinkingDeltas,
  tokensForChars,
  toolArguments,
} from "../../demo/upstream/tokens.ts";

describe("usage arithmetic", () => {
  it("input tokens = ceil(characters / 4), at least 1", () => {
    expect(tokensForChars(0)).toBe(1);
    expect(tokensForChars(4)).toBe(1);
    expect(tokensForChars(5)).toBe(2);
    expect(inputTokensFromTexts([])).toBe(1);
    expect(inputTokensFromTexts(["abc", "defgh"])).toBe(2);
  });

  it("the canned answer is one word per token, cycling past its natural 24 words", () => {
    expect(answerDeltas(24).join("").split(" ")).toHaveLength(24);
    expect(answerDeltas(60)).toHaveLength(60);
    expect(answerDeltas(3)).toEqual(["This", " is", " the"]);
    expect(thinkingDeltas(7)).toHaveLength(7);
  });

  it("max tokens caps reasoning first, then the visible answer", () => {
    expect(planOutput({ naturalTokens: 24, maxTokens: undefined, reasoningTokens: 16 })).toEqual({
      textTokens: 24,
      reasoningTokens: 16,
      truncated: false,
    });
    expect(planOutput({ naturalTokens: 24, maxTokens: 30, reasoningTokens: 16 })).toEqual({
      textTokens: 14,
      reasoningTokens: 16,
      truncated: true,
    });
    expect(planOutput({ naturalTokens: 24, maxTokens: 10, reasoningTokens: 16 })).toEqual({
      textTokens: 0,
      reasoningTokens: 10,
      truncated: true,
    });
    expect(planOutput({ naturalTokens: 0, maxTokens: 1, reasoningTokens: 0 }).truncated).toBe(false);
  });

  it("tool arguments come from the first string property (or its first enum value)", () => {
    expect(toolArguments({ type: "object", properties: { n: { type: "integer" }, city: { type: "string" } } })).toBe(
      '{"city":"Paris"}',
    );
    expect(toolArguments({ properties: { unit: { type: ["string", "null"], enum: ["celsius", "kelvin"] } } })).toBe(
      '{"unit":"celsius"}',
    );
    expect(toolArguments({ properties: { q: { type: "STRING" } } })).toBe('{"q":"Paris"}');
    expect(toolArguments({ type: "object" })).toBe("{}");
    expect(argumentFragments('{"city":"Paris"}')).toEqual(['{"', "city", '":"', "Paris", '"}']);
    expect(argumentFragments("{}")).toEqual(["{}"]);
  });

  it("recognises reasoning models", () => {
    for (const m of ["o1", "o3-mini", "o4-mini", "gpt-5", "gpt-5-mini"]) expect(isOpenAIReasoningModel(m)).toBe(true);
    for (const m of ["gpt-4o", "gpt-4.1-mini", "chatgpt-4o-latest"]) expect(isOpenAIReasoningModel(m)).toBe(false);
    for (const m of ["gemini-2.5-flash", "gemini-2.5-pro", "gemini-3-pro-preview", "gemini-3.1-flash"]) {
      expect(isGeminiThinkingModel(m)).toBe(true);
    }
    for (const m of ["gemini-2.0-flash", "gemini-1.5-flash-003", "gemini-2.0-flash-lite-001"]) {
      expect(isGeminiThinkingModel(m)).toBe(false);
    }
  });

  it("splits a known @scenario suffix off the model name", () => {
    expect(splitModel("gpt-4o-mini@rate_limit")).toEqual({ model: "gpt-4o-mini", scenario: "rate_limit" });
    expect(splitModel("claude-3-5-sonnet@20240620")).toEqual({ model: "claude-3-5-sonnet@20240620", scenario: null });
    expect(splitModel("gpt-4o")).toEqual({ model: "gpt-4o", scenario: null });
  });
});
