// Cost against the catalog: our exact integer arithmetic must agree with @pydantic/genai-prices'
// own calcPrice (floating point) to well under a nano-dollar per call, for models with cached,
// cache-write, reasoning and tiered prices.
import { calcPrice } from "@pydantic/genai-prices";
import { describe, expect, it } from "vitest";
import { priceCall } from "../../shared/pricing.ts";
import type { TokenUsage } from "../../shared/usage.ts";

const at = new Date("2026-11-01T12:00:00Z");

function catalogNano(provider: string, model: string, u: TokenUsage): number {
  const result = calcPrice(
    {
      input_tokens: u.inputTokens,
      cache_read_tokens: u.cachedInputTokens,
      cache_write_tokens: u.cacheWriteTokens,
      output_tokens: u.outputTokens,
    },
    model,
    { providerId: provider, timestamp: at },
  );
  if (!result) throw new Error(`catalog has no ${provider}:${model}`);
  return result.total_price * 1e9;
}

const usage = (input: number, cached: number, write: number, output: number, reasoning = 0): TokenUsage => ({
  inputTokens: input,
  cachedInputTokens: cached,
  cacheWriteTokens: write,
  outputTokens: output,
  reasoningTokens: reasoning,
});

describe("priceCall", () => {
  const cases: [string, string, TokenUsage][] = [
    ["openai", "gpt-4o", usage(1200, 400, 0, 350)],
    ["openai", "gpt-4o-mini", usage(987_654, 123_456, 0, 54_321)],
    ["openai", "o3-mini", usage(2000, 1024, 0, 900, 640)],
    ["openai", "gpt-5", usage(50_000, 20_000, 0, 8_000, 6_000)],
    ["anthropic", "claude-sonnet-4-20250514", usage(4740, 0, 4735, 255)],
    ["anthropic", "claude-3-5-haiku-latest", usage(10_000, 6_000, 2_000, 1_000)],
    ["google", "gemini-2.5-flash", usage(3_000, 1_000, 0, 700, 300)],
    ["google", "gemini-2.5-pro", usage(250_000, 10_000, 0, 5_000, 1_000)],
    ["google", "gemini-2.5-pro", usage(150_000, 0, 0, 5_000, 1_000)],
  ];
  for (const [provider, model, u] of cases) {
    it(`${provider}:${model} with ${u.inputTokens} in / ${u.outputTokens} out matches the catalog`, () => {
      const priced = priceCall(provider, model, u, [], at);
      expect(priced).not.toBeNull();
      expect(Number.isInteger(priced?.costNanoUsd)).toBe(true);
      expect(Math.abs((priced?.costNanoUsd ?? 0) - catalogNano(provider, model, u))).toBeLessThan(1);
      expect(priced?.price.source).toBe("catalog");
    });
  }

  it("applies the tier for prompts over 200k tokens to the whole call", () => {
    const small = priceCall("google", "gemini-2.5-pro", usage(200_000, 0, 0, 0), [], at);
    const large = priceCall("google", "gemini-2.5-pro", usage(200_001, 0, 0, 0), [], at);
    expect(small?.price.input).toBe("1.25");
    expect(large?.price.input).toBe("2.5");
  });

  it("returns null for a model nobody prices", () => {
    expect(priceCall("openai", "no-such-model-xyz", usage(10, 0, 0, 10), [], at)).toBeNull();
    expect(priceCall("my-vllm", "llama-local", usage(10, 0, 0, 10), [], at)).toBeNull();
  });

  it("prefers a tenant override, exact before prefix, in exact integers", () => {
    const overrides = [
      { provider: "openai", model: "gpt-4o*", input: "1", cachedInput: "0.5", cacheWrite: "1", output: "4" },
      { provider: "openai", model: "gpt-4o-mini", input: "0.1", cachedInput: "0.05", cacheWrite: "0.1", output: "0.4" },
    ];
    const exact = priceCall("openai", "gpt-4o-mini", usage(1_000_000, 0, 0, 1_000_000), overrides, at);
    expect(exact?.costNanoUsd).toBe(500_000_000);
    expect(exact?.price.source).toBe("override");
    const prefix = priceCall("openai", "gpt-4o-2024-08-06", usage(3, 1, 0, 3), overrides, at);
    // 2 x $1/M + 1 x $0.5/M + 3 x $4/M = 14.5e-6 USD = 14500 nano-USD
    expect(prefix?.costNanoUsd).toBe(14_500);
  });
});
