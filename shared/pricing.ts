// Cost of a call from the @pydantic/genai-prices catalog, with per-tenant overrides, in integer
// nano-USD. The catalog picks the model (its matching rules, date- and time-of-day prices);
// the arithmetic here is exact: sum(tokens x rate) / 1e6 rounded half up, once per event.
import { calcPrice, TieredPrices, type ModelPrice } from "@pydantic/genai-prices";
import { decimalNumberToScaled, divideRounded, formatDecimal, parseDecimal } from "./money.ts";
import type { PriceRecord, TokenUsage } from "./usage.ts";

export const CATALOG = "genai-prices";

/** Rates in nano-USD per million tokens. */
export type Rates = { input: bigint; cachedInput: bigint; cacheWrite: bigint; output: bigint };

export type PriceOverride = {
  provider: string;
  /** exact model id, or a prefix ending in "*" */
  model: string;
  input: string;
  cachedInput: string;
  cacheWrite: string;
  output: string;
};

export type Priced = { costNanoUsd: number; price: PriceRecord };

/** Our provider names to catalog provider ids where they differ. */
const CATALOG_PROVIDER: Record<string, string> = { xai: "x-ai", google: "google" };

type TierRate = { base: bigint; tiers: { start: number; rate: bigint }[] };
type CatalogEntry = { ref: string; rates: Record<keyof Rates, TierRate> } | null;

const catalogCache = new Map<string, CatalogEntry>();

function toTierRate(value: ModelPrice[string], fallback: TierRate | null): TierRate | null {
  if (value === undefined) return fallback;
  if (typeof value === "number") {
    const base = decimalNumberToScaled(value);
    return base === null ? null : { base, tiers: [] };
  }
  if (value instanceof TieredPrices || (typeof value === "object" && "base" in value)) {
    const base = decimalNumberToScaled(value.base);
    if (base === null) return null;
    const tiers: TierRate["tiers"] = [];
    for (const tier of value.tiers) {
      const rate = decimalNumberToScaled(tier.price);
      if (rate === null) return null;
      tiers.push({ start: tier.start, rate });
    }
    return { base, tiers: tiers.sort((a, b) => a.start - b.start) };
  }
  return null;
}

function lookupCatalog(provider: string, model: string, at: Date): CatalogEntry {
  const hour = Math.floor(at.getTime() / 3_600_000);
  const cacheKey = `${provider}\u0000${model}\u0000${hour}`;
  const cached = catalogCache.get(cacheKey);
  if (cached !== undefined) return cached;
  let entry: CatalogEntry = null;
  try {
    const found = calcPrice({ input_tokens: 1, output_tokens: 1 }, model, {
      providerId: CATALOG_PROVIDER[provider] ?? provider,
      timestamp: at,
    });
    if (found) {
      const input = toTierRate(found.model_price.input_mtok, null);
      const output = toTierRate(found.model_price.output_mtok, null);
      if (input || output) {
        const zero = { base: 0n, tiers: [] };
        const inputRate = input ?? zero;
        entry = {
          ref: `${found.provider.id}:${found.model.id}`,
          rates: {
            input: inputRate,
            cachedInput: toTierRate(found.model_price.cache_read_mtok, inputRate) ?? inputRate,
            cacheWrite: toTierRate(found.model_price.cache_write_mtok, inputRate) ?? inputRate,
            output: output ?? zero,
          },
        };
      }
    }
  } catch {
    entry = null;
  }
  if (catalogCache.size > 5000) catalogCache.clear();
  catalogCache.set(cacheKey, entry);
  return entry;
}

/** Tiers apply to the whole call by its total prompt size, as the providers bill them. */
function rateAt(rate: TierRate, promptTokens: number): bigint {
  let value = rate.base;
  for (const tier of rate.tiers) if (promptTokens > tier.start) value = tier.rate;
  return value;
}

export function matchOverride(overrides: readonly PriceOverride[], provider: string, model: string) {
  let best: PriceOverride | undefined;
  for (const o of overrides) {
    if (o.provider !== provider) continue;
    if (o.model === model) return o;
    if (o.model.endsWith("*") && model.startsWith(o.model.slice(0, -1))) {
      if (!best || o.model.length > best.model.length) best = o;
    }
  }
  return best;
}

export function costOf(usage: TokenUsage, rates: Rates): bigint {
  const uncached = Math.max(0, usage.inputTokens - usage.cachedInputTokens - usage.cacheWriteTokens);
  const sum =
    BigInt(uncached) * rates.input +
    BigInt(usage.cachedInputTokens) * rates.cachedInput +
    BigInt(usage.cacheWriteTokens) * rates.cacheWrite +
    BigInt(usage.outputTokens) * rates.output;
  return divideRounded(sum, 1_000_000n);
}

function record(source: PriceRecord["source"], ref: string, rates: Rates): PriceRecord {
  return {
    source,
    ref,
    input: formatDecimal(rates.input),
    cachedInput: formatDecimal(rates.cachedInput),
    cacheWrite: formatDecimal(rates.cacheWrite),
    output: formatDecimal(rates.output),
  };
}

/** Prices a call; null means the model is unknown to the catalog and to the tenant's overrides. */
export function priceCall(
  provider: string,
  model: string,
  usage: TokenUsage,
  overrides: readonly PriceOverride[],
  at = new Date(),
): Priced | null {
  const override = matchOverride(overrides, provider, model);
  if (override) {
    const parse = (text: string) => parseDecimal(text) ?? 0n;
    const rates = {
      input: parse(override.input),
      cachedInput: parse(override.cachedInput),
      cacheWrite: parse(override.cacheWrite),
      output: parse(override.output),
    };
    return {
      costNanoUsd: Number(costOf(usage, rates)),
      price: record("override", `${provider}:${override.model}`, rates),
    };
  }
  const entry = lookupCatalog(provider, model, at);
  if (!entry) return null;
  const prompt = usage.inputTokens;
  const rates = {
    input: rateAt(entry.rates.input, prompt),
    cachedInput: rateAt(entry.rates.cachedInput, prompt),
    cacheWrite: rateAt(entry.rates.cacheWrite, prompt),
    output: rateAt(entry.rates.output, prompt),
  };
  return { costNanoUsd: Number(costOf(usage, rates)), price: record("catalog", `${CATALOG}:${entry.ref}`, rates) };
}
