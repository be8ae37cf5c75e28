// The shape of the dashboard benchmark's data set, computed in Node and deterministic (a fixed
// PRNG seed): 4 providers, 20 models with prices (2 unpriced), 200 keys bound to team (10
// values), project (50) and feature (100), each key using 1–3 models, and the number of usage
// events in every hour of the last 180 days (a daily and weekly cycle, slow growth, noise).
// dashboard-seed.ts turns this plan into rows inside SQLite.

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

/** A model: USD per million tokens (input, cached input, cache write, output), or unpriced. */
export type ModelSpec = {
  provider: string;
  model: string;
  endpoint: string;
  prices: readonly [number, number, number, number] | null;
  /** relative popularity among the keys' picks */
  weight: number;
  reasoning: boolean;
  /** scale (percent) of prompt and completion sizes */
  inputScale: number;
  outputScale: number;
};

const m = (
  provider: string,
  model: string,
  prices: ModelSpec["prices"],
  weight: number,
  extra: Partial<Pick<ModelSpec, "endpoint" | "reasoning" | "inputScale" | "outputScale">> = {},
): ModelSpec => ({
  provider,
  model,
  prices,
  weight,
  endpoint:
    extra.endpoint ??
    (provider === "anthropic" ? "messages" : provider === "google" ? "generateContent" : "chat.completions"),
  reasoning: extra.reasoning ?? false,
  inputScale: extra.inputScale ?? 100,
  outputScale: extra.outputScale ?? 100,
});

/** Prices are illustrative (close to the public ones); each has at most 3 decimals, so a token
 * costs a whole number of nano-USD. */
export const MODELS: readonly ModelSpec[] = [
  m("openai", "gpt-4o", [2.5, 1.25, 0, 10], 10),
  m("openai", "gpt-4o-mini", [0.15, 0.075, 0, 0.6], 25),
  m("openai", "gpt-4.1", [2, 0.5, 0, 8], 8, { inputScale: 180 }),
  m("openai", "gpt-4.1-mini", [0.4, 0.1, 0, 1.6], 15),
  m("openai", "gpt-4.1-nano", [0.1, 0.025, 0, 0.4], 8, { inputScale: 50, outputScale: 40 }),
  m("openai", "o3-mini", [1.1, 0.55, 0, 4.4], 4, { reasoning: true, outputScale: 250 }),
  m("openai", "o4-mini", [1.1, 0.275, 0, 4.4], 4, { reasoning: true, outputScale: 250 }),
  m("openai", "text-embedding-3-small", [0.02, 0, 0, 0], 10, { endpoint: "embeddings", outputScale: 0 }),
  m("openai", "ft:gpt-4o-mini-2024-07-18:acme:support:9xk2", null, 1.5),
  m("anthropic", "claude-3-5-haiku-latest", [0.8, 0.08, 1, 4], 8),
  m("anthropic", "claude-3-7-sonnet-latest", [3, 0.3, 3.75, 15], 6, { inputScale: 200 }),
  m("anthropic", "claude-sonnet-4-20250514", [3, 0.3, 3.75, 15], 8, { inputScale: 200 }),
  m("anthropic", "claude-opus-4-20250514", [15, 1.5, 18.75, 75], 1.5, { inputScale: 250, outputScale: 150 }),
  m("google", "gemini-2.0-flash", [0.1, 0.025, 0, 0.4], 8),
  m("google", "gemini-2.5-flash", [0.3, 0.075, 0, 2.5], 8),
  m("google", "gemini-2.5-pro", [1.25, 0.31, 0, 10], 3, { reasoning: true, inputScale: 200, outputScale: 200 }),
  m("mistral", "mistral-large-latest", [2, 0.2, 0, 6], 3),
  m("mistral", "mistral-small-latest", [0.1, 0.01, 0, 0.3], 4),
  m("mistral", "codestral-latest", [0.3, 0.03, 0, 0.9], 3, { outputScale: 150 }),
  m("mistral", "ft:open-mistral-7b:acme:triage", null, 1),
];

export const PROVIDERS = ["openai", "anthropic", "google", "mistral"] as const;
const PROVIDER_SHARE: Record<string, number> = { openai: 45, anthropic: 25, google: 20, mistral: 10 };

export const TEAMS = [
  "search",
  "assistant",
  "billing",
  "growth",
  "support",
  "platform",
  "data",
  "mobile",
  "security",
  "research",
] as const;
const PROJECT_KINDS = ["web", "api", "batch", "eval", "ops"] as const;
const FEATURE_KINDS = ["chat", "summarise"] as const;

export type KeySpec = {
  name: string;
  dimensions: { team: string; project: string; feature: string };
  /** share of the tenant's calls */
  weight: number;
  /** the key's models (index into MODELS) and their shares of its calls */
  models: { model: number; share: number }[];
};

/** mulberry32: a small seeded PRNG, so every run builds the same data set. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function pickWeighted<T>(items: readonly T[], weight: (item: T) => number, rnd: () => number): T {
  const total = items.reduce((s, item) => s + weight(item), 0);
  let x = rnd() * total;
  for (const item of items) {
    x -= weight(item);
    if (x <= 0) return item;
  }
  const last = items.at(-1);
  if (last === undefined) throw new Error("pickWeighted: no items");
  return last;
}

/** 200 keys: key i is bound to feature i mod 100, its project (2 features each) and team (5
 * projects each); usage per key follows a Zipf-like law over a shuffled order. */
export function keySpecs(count: number, rnd: () => number): KeySpec[] {
  const ranks = Array.from({ length: count }, (_, i) => i + 1);
  for (let i = ranks.length - 1; i > 0; i -= 1) {
    const j = Math.floor(rnd() * (i + 1));
    [ranks[i], ranks[j]] = [ranks[j] ?? 0, ranks[i] ?? 0];
  }
  const modelIds = MODELS.map((_, i) => i);
  return ranks.map((rank, i) => {
    const f = i % 100;
    const p = Math.floor(f / 2);
    const team = TEAMS[Math.floor(p / 5)] ?? "search";
    const project = `${team}-${PROJECT_KINDS[p % 5] ?? "web"}`;
    const feature = `${project}-${FEATURE_KINDS[f % 2] ?? "chat"}`;
    const provider = pickWeighted(PROVIDERS, (name) => PROVIDER_SHARE[name] ?? 1, rnd);
    const wanted = 1 + Math.floor(rnd() * 3);
    const chosen: number[] = [];
    while (chosen.length < wanted) {
      const sameProvider = chosen.length === 0 || rnd() < 0.8;
      const pool = modelIds.filter(
        (id) => !chosen.includes(id) && (!sameProvider || MODELS[id]?.provider === provider),
      );
      if (pool.length === 0) break;
      chosen.push(pickWeighted(pool, (id) => MODELS[id]?.weight ?? 1, rnd));
    }
    const shares = [0.7, 0.2, 0.1].slice(0, chosen.length);
    const sum = shares.reduce((s, v) => s + v, 0);
    return {
      name: `${feature} ${i < 100 ? "prod" : "staging"}`,
      dimensions: { team, project, feature },
      weight: 1 / rank ** 0.9,
      models: chosen.map((model, k) => ({ model, share: (shares[k] ?? 0) / sum })),
    };
  });
}

/** Calls in each hour of the window: a working-day curve (peak early afternoon UTC), weekends
 * at a third, growth from 60% to 100% over the window, ±15% noise; exactly `total` in all. */
export function hourlyCounts(startHour: number, hours: number, total: number, rnd: () => number): number[] {
  const weights = Array.from({ length: hours }, (_, i) => {
    const at = new Date(startHour + i * HOUR_MS);
    const hour = at.getUTCHours();
    const day = at.getUTCDay();
    const diurnal = hour >= 6 && hour <= 21 ? 0.15 + Math.sin((Math.PI * (hour - 6)) / 15) : 0.15;
    const weekly = day === 0 ? 0.3 : day === 6 ? 0.35 : 1;
    const growth = 0.6 + (0.4 * i) / hours;
    return diurnal * weekly * growth * (0.85 + 0.3 * rnd());
  });
  return apportion(weights, total);
}

/** Largest-remainder apportionment: whole numbers proportional to `weights` summing to `total`. */
export function apportion(weights: readonly number[], total: number, minimum = 0): number[] {
  const sum = weights.reduce((s, w) => s + w, 0);
  const free = total - minimum * weights.length;
  if (free < 0 || sum <= 0) throw new Error(`cannot apportion ${total} over ${weights.length} items`);
  const exact = weights.map((w) => (w / sum) * free);
  const counts = exact.map((x) => minimum + Math.floor(x));
  let left = total - counts.reduce((s, c) => s + c, 0);
  const order = exact.map((x, i) => ({ i, rest: x - Math.floor(x) })).sort((a, b) => b.rest - a.rest);
  for (const { i } of order) {
    if (left <= 0) break;
    counts[i] = (counts[i] ?? 0) + 1;
    left -= 1;
  }
  return counts;
}

/** One (key, model) pair the generator draws calls from. */
export type Combo = {
  keyIndex: number;
  provider: string;
  model: string;
  endpoint: string;
  /** per token, nano-USD: input, cached input, cache write, output; null when unpriced */
  nanoPerToken: readonly [number, number, number, number] | null;
  /** the usage event's `price` JSON (null when unpriced) */
  price: string | null;
  reasoning: boolean;
  cachePct: number;
  cacheWrites: boolean;
  inputScale: number;
  outputScale: number;
  weight: number;
};

/** USD per million tokens with ≤ 3 decimals → nano-USD per token (× 1,000), exactly. */
function nanoPerToken(usdPerMillion: number): number {
  const nano = Math.round(usdPerMillion * 1_000);
  if (Math.abs(nano - usdPerMillion * 1_000) > 1e-6) throw new Error(`price ${usdPerMillion} has more than 3 decimals`);
  return nano;
}

export function combos(keys: readonly KeySpec[]): Combo[] {
  return keys.flatMap((key, keyIndex) =>
    key.models.map(({ model, share }) => {
      const spec = MODELS[model];
      if (!spec) throw new Error(`no model ${model}`);
      const p = spec.prices;
      return {
        keyIndex,
        provider: spec.provider,
        model: spec.model,
        endpoint: spec.endpoint,
        nanoPerToken: p ? [nanoPerToken(p[0]), nanoPerToken(p[1]), nanoPerToken(p[2]), nanoPerToken(p[3])] : null,
        price: p
          ? JSON.stringify({
              source: "catalog",
              ref: `genai-prices:${spec.model}`,
              input: String(p[0]),
              cachedInput: String(p[1]),
              cacheWrite: String(p[2]),
              output: String(p[3]),
            })
          : null,
        reasoning: spec.reasoning,
        cachePct: spec.provider === "anthropic" ? 40 : spec.endpoint === "embeddings" ? 0 : 25,
        cacheWrites: spec.provider === "anthropic",
        inputScale: spec.inputScale,
        outputScale: spec.outputScale,
        weight: key.weight * share,
      } satisfies Combo;
    }),
  );
}

/** SLOTS entries, each a combo index, in proportion to the combos' weights (each at least one):
 * an event draws its combo as slots[hash mod SLOTS]. */
export const SLOTS = 16_384;

export function slots(all: readonly Combo[]): number[] {
  const counts = apportion(
    all.map((c) => c.weight),
    SLOTS,
    1,
  );
  return counts.flatMap((n, i) => Array.from({ length: n }, () => i));
}

export type DataPlan = {
  /** first hour (UTC ms) of the window; the window ends at the start of the current hour */
  startHour: number;
  endHour: number;
  /** events generated in SQL (the refused calls made through the gateway come on top) */
  events: number;
  hourly: number[];
  keys: KeySpec[];
  combos: Combo[];
  slots: number[];
};

export function dataPlan(opts: { events: number; days: number; keys: number; now: number; seed?: number }): DataPlan {
  const rnd = prng(opts.seed ?? 20_261_123);
  const endHour = Math.floor(opts.now / HOUR_MS) * HOUR_MS;
  const hours = opts.days * 24;
  const startHour = endHour - hours * HOUR_MS;
  const keys = keySpecs(opts.keys, rnd);
  const all = combos(keys);
  return {
    startHour,
    endHour,
    events: opts.events,
    hourly: hourlyCounts(startHour, hours, opts.events, rnd),
    keys,
    combos: all,
    slots: slots(all),
  };
}
