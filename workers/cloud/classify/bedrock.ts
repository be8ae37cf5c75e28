// Model and token type of an Amazon Bedrock line, read from its usage type ("Understanding your
// Amazon Bedrock Cost and Usage Report data",
// https://docs.aws.amazon.com/bedrock/latest/userguide/cost-mgmt-understanding-cur-data.html):
//
//   input        *-input-tokens            *-mantle-input-tokens-*
//   output       *-output-tokens           *-mantle-output-tokens-*
//   cache_read   *-cache-read-input-token-count
//   cache_write  *-cache-write-input-token-count
//
// The usage type is `[<region>-]<model>[-<qualifiers>]-<token part>[-<qualifiers>]`: the region is
// AWS's usage-type prefix (`USE1`, `USW2`, `EUC1`, `APN1`; three capitals and a digit) or absent; the
// qualifiers are the service tier (`flex`, `priority`, `standard`, `reserved`), batch inference
// (`batch`), cross-region routing (`cross-region`, `global`, `geo`, `crossregion`) and `mantle`. The
// model is what is left, as the bill spells it (`Claude4Sonnet`, `Llama3-2-11B`), so that it matches
// the bill line for line; nothing is renamed.
//
// Marketplace models ("Claude 3.5 Sonnet (Amazon Bedrock Edition)") take the model from the product
// name without its suffix, and the token type from usage types such as
// `USE1-MP:USE1_InputTokenCount-Units` or `…_CacheReadInputTokenCount-Units`.
//
// Lines that are not token lines (Provisioned Throughput model units, images, custom-model training
// and storage, knowledge bases, guardrails, agents) get token type `other`; their model is the part
// before `-images` / `-ProvisionedThroughput` / `-ModelUnits` when the usage type has one, else null.
import type { TokenType } from "../line.ts";

const REGION_PREFIX = /^[A-Z]{3}\d-/;
/** separators dropped before looking for the token words, so `cache-read`, `CacheRead` and `cache_read` read alike */
const SEPARATORS = /[-_:\s]/g;

/** Hyphen-separated parts that are not the model: tiers, routing, the token words, non-token units. */
const QUALIFIERS = new Set([
  "input",
  "output",
  "cache",
  "read",
  "write",
  "tokens",
  "token",
  "count",
  "mantle",
  "cross",
  "region",
  "crossregion",
  "global",
  "geo",
  "flex",
  "priority",
  "standard",
  "reserved",
  "batch",
  "images",
  "image",
  "provisionedthroughput",
  "modelunits",
  "modelunit",
  "units",
]);

/** Parts after which the model has ended: the token words and the non-token units that name a model. */
const MODEL_ENDS = new Set([
  "input",
  "output",
  "cache",
  "images",
  "image",
  "provisionedthroughput",
  "modelunits",
  "modelunit",
]);

export type BedrockUsage = { model: string | null; tokenType: TokenType | null };

/** The token type a Bedrock usage type names; `other` when it names none; null without a usage type. */
export function tokenTypeOf(usageType: string | null): TokenType | null {
  if (usageType === null) return null;
  const flat = usageType.toLowerCase().replace(SEPARATORS, "");
  if (flat.includes("cacheread")) return "cache_read";
  if (flat.includes("cachewrite")) return "cache_write";
  if (flat.includes("inputtoken")) return "input";
  if (flat.includes("outputtoken")) return "output";
  return "other";
}

/** The model a first-party Bedrock usage type names, or null. */
export function modelOf(usageType: string | null): string | null {
  if (usageType === null) return null;
  const rest = usageType.replace(REGION_PREFIX, "");
  const parts = rest.split("-");
  let end = -1;
  for (let i = 0; i < parts.length; i++) {
    if (MODEL_ENDS.has((parts[i] ?? "").toLowerCase())) {
      end = i;
      break;
    }
  }
  if (end <= 0) return null;
  const kept: string[] = [];
  for (let i = 0; i < end; i++) {
    const part = parts[i] ?? "";
    if (part !== "" && !QUALIFIERS.has(part.toLowerCase())) kept.push(part);
  }
  return kept.length === 0 ? null : kept.join("-");
}

/** A first-party Bedrock line: model and token type from the usage type. */
export function fromUsageType(usageType: string | null): BedrockUsage {
  return { model: modelOf(usageType), tokenType: tokenTypeOf(usageType) };
}

/** A Marketplace Bedrock line: the model is the product name without its suffix. */
export function fromProductName(productName: string, suffix: string, usageType: string | null): BedrockUsage {
  const model = productName.slice(0, productName.length - suffix.length).trim();
  return { model: model === "" ? null : model, tokenType: tokenTypeOf(usageType) };
}
