// Deterministic token arithmetic of the demo upstream. Every number the demo upstream reports
// comes from the functions in this file, so tests can compute the expected usage themselves.
// The rules are described in demo/upstream/README.md ("Usage arithmetic").

/** Characters per input token: input tokens = ceil(characters / 4), at least 1. */
export const CHARS_PER_TOKEN = 4;
/** Natural length of the canned answer, in tokens (= words), unless `x-demo-output-tokens` says otherwise. */
export const DEFAULT_OUTPUT_TOKENS = 24;
/** Reasoning tokens reported by reasoning models unless `x-demo-reasoning-tokens` says otherwise. */
export const DEFAULT_REASONING_TOKENS = 16;

const ANSWER_WORDS: readonly string[] = (
  "This is the Outlay demo upstream. It sends canned text so you can try the proxy " +
  "without a provider account; no real model ran."
).split(" ");

const THINKING_WORDS: readonly string[] = (
  "Demo thinking: the Outlay demo upstream does not reason, it only counts words " +
  "so that the usage numbers stay predictable."
).split(" ");

/** Input tokens for a number of characters: ceil(chars / 4), at least 1. */
export function tokensForChars(chars: number): number {
  return Math.max(1, Math.ceil(chars / CHARS_PER_TOKEN));
}

/** Input tokens for a list of texts: ceil(sum of their JavaScript string lengths / 4), at least 1. */
export function inputTokensFromTexts(texts: readonly string[]): number {
  let chars = 0;
  for (const text of texts) chars += text.length;
  return tokensForChars(chars);
}

function cycleWords(source: readonly string[], count: number): string[] {
  const words: string[] = [];
  for (let i = 0; i < count; i++) words.push(source[i % source.length] ?? "demo");
  return words;
}

/**
 * The stream deltas of a canned answer of `count` tokens: one word per delta, every delta but
 * the first starting with a space, so `deltas.join("")` is the full text and `deltas.length`
 * is the token count.
 */
export function answerDeltas(count: number): string[] {
  return cycleWords(ANSWER_WORDS, count).map((word, i) => (i === 0 ? word : ` ${word}`));
}

/** The full canned answer of `count` tokens (words). */
export function answerText(count: number): string {
  return answerDeltas(count).join("");
}

/** The stream deltas of a canned thinking text of `count` tokens (words). */
export function thinkingDeltas(count: number): string[] {
  return cycleWords(THINKING_WORDS, count).map((word, i) => (i === 0 ? word : ` ${word}`));
}

/** The full canned thinking text of `count` tokens (words). */
export function thinkingText(count: number): string {
  return thinkingDeltas(count).join("");
}

export interface OutputPlanInput {
  /** Natural answer length in tokens (default 24). */
  naturalTokens: number;
  /** The request's max output tokens, if any. It caps reasoning + visible tokens together. */
  maxTokens: number | undefined;
  /** Reasoning/thinking tokens the model would like to spend (0 for non-reasoning models). */
  reasoningTokens: number;
}

export interface OutputPlan {
  /** Visible answer tokens (= words emitted). */
  textTokens: number;
  /** Reasoning/thinking tokens. */
  reasoningTokens: number;
  /** True when max tokens cut the answer short (finish_reason "length" and friends). */
  truncated: boolean;
}

/**
 * Splits the output budget: reasoning first (min(reasoning, max)), then the visible answer
 * (min(natural, max - reasoning)). Truncated when the visible answer is shorter than natural.
 */
export function planOutput(input: OutputPlanInput): OutputPlan {
  const max = input.maxTokens ?? Number.POSITIVE_INFINITY;
  const reasoningTokens = Math.max(0, Math.min(input.reasoningTokens, max));
  const textTokens = Math.max(0, Math.min(input.naturalTokens, max - reasoningTokens));
  return { textTokens, reasoningTokens, truncated: textTokens < input.naturalTokens };
}

/** OpenAI models that report reasoning tokens: o1, o3, o4-mini, gpt-5, ... */
export function isOpenAIReasoningModel(model: string): boolean {
  return /^(o\d|gpt-5)/.test(model);
}

/** Gemini models that report thoughtsTokenCount: gemini-2.5-*, gemini-3*, and later. */
export function isGeminiThinkingModel(model: string): boolean {
  return /gemini-(2\.5|[3-9])(\.\d+)?(-|$)/.test(model);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isStringType(type: unknown): boolean {
  if (typeof type === "string") return type.toLowerCase() === "string";
  return Array.isArray(type) && type.some((t) => typeof t === "string" && t.toLowerCase() === "string");
}

/**
 * Arguments of the demo tool call, as a JSON string: `{"<first string property>":"Paris"}`
 * (or the property's first enum value), or `{}` when the schema has no string property.
 */
export function toolArguments(schema: unknown): string {
  if (!isRecord(schema) || !isRecord(schema.properties)) return "{}";
  for (const [name, prop] of Object.entries(schema.properties)) {
    if (!isRecord(prop) || !isStringType(prop.type)) continue;
    const first = Array.isArray(prop.enum) ? prop.enum[0] : undefined;
    return JSON.stringify({ [name]: typeof first === "string" ? first : "Paris" });
  }
  return "{}";
}

/**
 * Splits tool-call arguments into stream fragments the way providers stream them:
 * `{"location":"Paris"}` -> `{"`, `location`, `":"`, `Paris`, `"}`. Output tokens of a tool
 * call = number of fragments.
 */
export function argumentFragments(json: string): string[] {
  return json.match(/[A-Za-z0-9_]+|[^A-Za-z0-9_]+/g) ?? [json];
}

/** Output tokens of a tool call with these arguments (= number of fragments). */
export function toolCallTokens(json: string): number {
  return argumentFragments(json).length;
}
