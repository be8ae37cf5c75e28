// Scenario controls: request headers `x-demo-*`, or a model-name suffix `@<scenario>` so the demo
// works with unmodified SDK calls (e.g. model "gpt-4o-mini@rate_limit").

export const SCENARIOS = ["rate_limit", "server_error", "overloaded", "cut", "slow", "bad_json"] as const;

export type Scenario = (typeof SCENARIOS)[number];

/** Default per-chunk delay of the `slow` scenario, in ms. */
export const DEFAULT_SLOW_DELAY_MS = 50;

const MAX_DELAY_MS = 60_000;
const MAX_TOKENS_CONTROL = 1_000_000;

export function isScenario(value: string): value is Scenario {
  return (SCENARIOS as readonly string[]).includes(value);
}

/**
 * Splits a requested model name into the model to echo back and the scenario of its
 * `@<scenario>` suffix. Only known scenario names are stripped ("claude-x@20240620" stays).
 */
export function splitModel(requested: string): { model: string; scenario: Scenario | null } {
  const at = requested.lastIndexOf("@");
  if (at > 0) {
    const suffix = requested.slice(at + 1);
    if (isScenario(suffix)) return { model: requested.slice(0, at), scenario: suffix };
  }
  return { model: requested, scenario: null };
}

export interface DemoControls {
  /** `x-demo-scenario` if it names a scenario, else the model suffix, else null. */
  scenario: Scenario | null;
  /** Delay before each stream chunk: `x-demo-delay-ms` (if given), else 50 for `slow`, else 0. */
  delayMs: number;
  /** Delay before the response headers: `x-demo-first-byte-ms`, default 0. */
  firstByteMs: number;
  /** Requested cached input tokens (`x-demo-cached-tokens`), clamped to input later. */
  cachedTokens: number;
  /** Requested Anthropic cache-write tokens (`x-demo-cache-write-tokens`). */
  cacheWriteTokens: number;
  /** `x-demo-reasoning-tokens`, or null for the default. */
  reasoningTokens: number | null;
  /** `x-demo-output-tokens` (natural answer length), or null for the default (24). */
  outputTokens: number | null;
  /** `x-demo-thinking: summarized`: Anthropic thinking as Claude 4 models do it (streamed as a
   * short summary, billed in full, budget_tokens rules enforced); else "full". */
  thinking: "full" | "summarized";
}

function intHeader(headers: Headers, name: string, max: number): number | null {
  const raw = headers.get(name);
  if (raw === null || !/^\s*\d+\s*$/.test(raw)) return null;
  return Math.min(Number.parseInt(raw, 10), max);
}

/** First-byte delay only; needed before the request body is read. */
export function firstByteDelay(headers: Headers): number {
  return intHeader(headers, "x-demo-first-byte-ms", MAX_DELAY_MS) ?? 0;
}

/** Reads the `x-demo-*` controls; `modelScenario` is the scenario of the model-name suffix. */
export function readControls(headers: Headers, modelScenario: Scenario | null): DemoControls {
  const named = (headers.get("x-demo-scenario") ?? "").trim().toLowerCase();
  const scenario = isScenario(named) ? named : modelScenario;
  const delay = intHeader(headers, "x-demo-delay-ms", MAX_DELAY_MS);
  return {
    scenario,
    delayMs: delay ?? (scenario === "slow" ? DEFAULT_SLOW_DELAY_MS : 0),
    firstByteMs: firstByteDelay(headers),
    cachedTokens: intHeader(headers, "x-demo-cached-tokens", MAX_TOKENS_CONTROL) ?? 0,
    cacheWriteTokens: intHeader(headers, "x-demo-cache-write-tokens", MAX_TOKENS_CONTROL) ?? 0,
    reasoningTokens: intHeader(headers, "x-demo-reasoning-tokens", MAX_TOKENS_CONTROL),
    outputTokens: intHeader(headers, "x-demo-output-tokens", MAX_TOKENS_CONTROL),
    thinking: (headers.get("x-demo-thinking") ?? "").trim().toLowerCase() === "summarized" ? "summarized" : "full",
  };
}

/** The error a scenario turns the request into, if any. */
export type ScenarioError = "rate_limit" | "server_error" | "overloaded";

export function scenarioError(scenario: Scenario | null): ScenarioError | null {
  return scenario === "rate_limit" || scenario === "server_error" || scenario === "overloaded" ? scenario : null;
}
