// Model and token type of Bedrock lines from their usage types ("Understanding your Amazon Bedrock
// Cost and Usage Report data": *-input-tokens, *-output-tokens, *-mantle-input-tokens-*,
// *-cache-read-input-token-count, *-cache-write-input-token-count), with region prefixes, service
// tiers, cross-region routing, batch inference and the non-token lines.
import { describe, expect, it } from "vitest";
import { classify } from "../../../workers/cloud/classify/index.ts";
import type { TokenType } from "../../../workers/cloud/line.ts";
import { curLine, focusLine } from "./bill-line.ts";

const CASES: [usageType: string | null, model: string | null, tokenType: TokenType | null][] = [
  ["USE1-Claude4Sonnet-input-tokens", "Claude4Sonnet", "input"],
  ["USE1-Claude4Sonnet-output-tokens", "Claude4Sonnet", "output"],
  ["USE1-Claude4Sonnet-cache-read-input-token-count", "Claude4Sonnet", "cache_read"],
  ["USE1-Claude4Sonnet-cache-write-input-token-count", "Claude4Sonnet", "cache_write"],
  // region prefixes, or none
  ["USW2-Claude3.5Sonnet-input-tokens", "Claude3.5Sonnet", "input"],
  ["EUC1-NovaPro-output-tokens", "NovaPro", "output"],
  ["APN1-TitanEmbedTextV2-input-tokens", "TitanEmbedTextV2", "input"],
  ["Claude4Sonnet-output-tokens", "Claude4Sonnet", "output"],
  // a model whose name has hyphens keeps them
  ["USW2-Llama3-2-11B-input-tokens", "Llama3-2-11B", "input"],
  // service tiers, batch, cross-region, mantle
  ["USE1-Claude4Sonnet-input-tokens-flex", "Claude4Sonnet", "input"],
  ["USE1-NovaLite-priority-output-tokens", "NovaLite", "output"],
  ["USE1-Claude4Sonnet-batch-input-tokens", "Claude4Sonnet", "input"],
  ["USE1-Claude4Sonnet-cross-region-global-output-tokens", "Claude4Sonnet", "output"],
  ["USE1-CrossRegion-Claude4Sonnet-cache-read-input-token-count", "Claude4Sonnet", "cache_read"],
  ["USE1-GptOss120B-mantle-input-tokens-standard", "GptOss120B", "input"],
  // not token lines: type other; the model when the usage type names one
  ["USE1-TitanImageGeneratorV2-images", "TitanImageGeneratorV2", "other"],
  ["USE1-Claude3Haiku-ProvisionedThroughput-ModelUnits", "Claude3Haiku", "other"],
  ["USE1-ProvisionedThroughput-ModelUnits", null, "other"],
  ["USE1-CustomModelStorage", null, "other"],
  ["USE1-ModelCustomization-Training-Tokens", null, "other"],
  ["USE1-KnowledgeBase-Retrieval", null, "other"],
  // no usage type (a tax line): neither
  [null, null, null],
];

describe("Bedrock usage types", () => {
  it.each(CASES)("%s → %s, %s", (usageType, model, tokenType) => {
    const result = classify(curLine("AmazonBedrock", "Amazon Bedrock", usageType));
    expect({ category: result.category, model: result.model, tokenType: result.tokenType }).toEqual({
      category: "bedrock",
      model,
      tokenType,
    });
  });

  it("reads AWS's FOCUS export the same way (x_UsageType)", () => {
    const line = focusLine({
      serviceName: "Amazon Bedrock",
      serviceCategory: "AI and Machine Learning",
      usageType: "USE1-NovaMicro-output-tokens",
    });
    const result = classify(line);
    expect({ model: result.model, tokenType: result.tokenType }).toEqual({ model: "NovaMicro", tokenType: "output" });
  });
});

describe("Bedrock Marketplace models", () => {
  it.each([
    ["USE1-MP:USE1_InputTokenCount-Units", "input"],
    ["USE1-MP:USE1_OutputTokenCount-Units", "output"],
    ["USE1-MP:USE1_CacheReadInputTokenCount-Units", "cache_read"],
    ["USE1-MP:USE1_CacheWriteInputTokenCount-Units", "cache_write"],
    ["USE1-MP:USE1_Hours", "other"],
    [null, null],
  ] as const)("%s → %s, the model from the product name", (usageType, tokenType) => {
    const result = classify(curLine("AWS Marketplace", "Claude 3.5 Sonnet (Amazon Bedrock Edition)", usageType));
    expect({ category: result.category, model: result.model, tokenType: result.tokenType }).toEqual({
      category: "bedrock",
      model: "Claude 3.5 Sonnet",
      tokenType,
    });
  });
});
