// Usage from OpenAI responses: chat/completions `usage` (prompt_tokens_details.cached_tokens,
// completion_tokens_details.reasoning_tokens), Responses API `response.usage`, embeddings.
// A stream the gateway cuts short ends the way OpenAI ends one at the output limit: chat and
// completions a chunk with finish_reason "length" per open choice (and the usage chunk when the
// client asked for it) then [DONE]; Responses the .done events of the open output items and
// response.incomplete (reason max_output_tokens) carrying the output so far.
import type { TokenUsage } from "../../../../shared/usage.ts";
import { count, isObject, type JsonObject, type StreamMeter } from "../types.ts";

export function openaiUsage(raw: unknown): TokenUsage | null {
  if (!isObject(raw)) return null;
  if ("prompt_tokens" in raw || "completion_tokens" in raw) {
    const prompt = isObject(raw.prompt_tokens_details) ? raw.prompt_tokens_details : {};
    const completion = isObject(raw.completion_tokens_details) ? raw.completion_tokens_details : {};
    return {
      inputTokens: count(raw.prompt_tokens),
      cachedInputTokens: count(prompt.cached_tokens),
      cacheWriteTokens: 0,
      outputTokens: count(raw.completion_tokens),
      reasoningTokens: count(completion.reasoning_tokens),
    };
  }
  if ("input_tokens" in raw || "output_tokens" in raw) {
    const input = isObject(raw.input_tokens_details) ? raw.input_tokens_details : {};
    const output = isObject(raw.output_tokens_details) ? raw.output_tokens_details : {};
    return {
      inputTokens: count(raw.input_tokens),
      cachedInputTokens: count(input.cached_tokens),
      cacheWriteTokens: 0,
      outputTokens: count(raw.output_tokens),
      reasoningTokens: count(output.reasoning_tokens),
    };
  }
  return null;
}

export function meterOpenAiJson(endpoint: string, body: unknown): TokenUsage | null {
  if (!isObject(body)) return null;
  return endpoint === "models" ? null : openaiUsage(body.usage);
}

function textLength(choices: unknown): number {
  if (!Array.isArray(choices)) return 0;
  let total = 0;
  for (const choice of choices) {
    if (!isObject(choice)) continue;
    if (typeof choice.text === "string") total += choice.text.length;
    const delta = isObject(choice.delta) ? choice.delta : null;
    if (!delta) continue;
    if (typeof delta.content === "string") total += delta.content.length;
    if (typeof delta.reasoning_content === "string") total += delta.reasoning_content.length;
    if (Array.isArray(delta.tool_calls)) {
      for (const call of delta.tool_calls) {
        const fn = isObject(call) && isObject(call.function) ? call.function : null;
        if (fn && typeof fn.arguments === "string") total += fn.arguments.length;
      }
    }
  }
  return total;
}

const RESPONSE_DONE = new Set(["response.completed", "response.incomplete", "response.failed"]);
const RESPONSE_STARTS = new Set(["response.created", "response.queued", "response.in_progress"]);

const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const dataEvent = (data: unknown): string => `data: ${JSON.stringify(data)}\n\n`;

/** Chat/completions chunk fields an ending repeats, in OpenAI's order. */
const CHUNK_FIELDS = ["id", "object", "created", "model", "service_tier", "system_fingerprint"] as const;

/** What a chat/completions (or legacy completions) stream showed of itself, for its ending. */
function chatEnding(endpoint: string, clientUsage: boolean) {
  const head: JsonObject = {};
  const choices = new Set<number>();
  const finished = new Set<number>();
  let usageField = false;
  let sawUsageChunk = false;
  return {
    observe(chunk: JsonObject): void {
      for (const field of CHUNK_FIELDS)
        if (chunk[field] !== undefined && chunk[field] !== null) head[field] = chunk[field];
      if ("usage" in chunk) usageField = true;
      if (isObject(chunk.usage)) sawUsageChunk = true;
      if (!Array.isArray(chunk.choices)) return;
      for (const [position, choice] of chunk.choices.entries()) {
        if (!isObject(choice)) continue;
        const index = typeof choice.index === "number" ? choice.index : position;
        choices.add(index);
        if (choice.finish_reason !== undefined && choice.finish_reason !== null) finished.add(index);
      }
    },
    finish(usage: TokenUsage): string {
      const legacy = head.object === "text_completion" || (head.object === undefined && endpoint === "completions");
      const base = {
        id: head.id ?? (legacy ? "cmpl-outlay-cut" : "chatcmpl-outlay-cut"),
        object: legacy ? "text_completion" : "chat.completion.chunk",
        created: head.created ?? nowSeconds(),
        model: head.model ?? "",
        ...(head.service_tier === undefined ? {} : { service_tier: head.service_tier }),
        ...(head.system_fingerprint === undefined ? {} : { system_fingerprint: head.system_fingerprint }),
      };
      // Nothing seen: choice 0 with the role, which the SDKs' accumulators require of a message.
      const open =
        choices.size === 0 ? [0] : [...choices].filter((index) => !finished.has(index)).sort((a, b) => a - b);
      const delta = choices.size === 0 ? { role: "assistant", content: "" } : {};
      let out = "";
      for (const index of open) {
        const choice = legacy
          ? { text: "", index, logprobs: null, finish_reason: "length" }
          : { index, delta, logprobs: null, finish_reason: "length" };
        out += dataEvent({ ...base, choices: [choice], ...(usageField ? { usage: null } : {}) });
      }
      if (clientUsage && !sawUsageChunk) out += dataEvent({ ...base, choices: [], usage: chatUsage(usage) });
      return `${out}data: [DONE]\n\n`;
    },
  };
}

function chatUsage(usage: TokenUsage): JsonObject {
  return {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedInputTokens },
    completion_tokens_details: { reasoning_tokens: usage.reasoningTokens },
  };
}

function responsesUsage(usage: TokenUsage): JsonObject {
  return {
    input_tokens: usage.inputTokens,
    input_tokens_details: { cached_tokens: usage.cachedInputTokens },
    output_tokens: usage.outputTokens,
    output_tokens_details: { reasoning_tokens: usage.reasoningTokens },
    total_tokens: usage.inputTokens + usage.outputTokens,
  };
}

/** Appends `value` to the string `field` of `target` (or sets it: `.done` events, or no string yet). */
function extend(target: unknown, field: string, value: unknown, replace: boolean): void {
  if (!isObject(target) || typeof value !== "string") return;
  const before = target[field];
  target[field] = replace || typeof before !== "string" ? value : before + value;
}

/** Which string field of a content or summary part a Responses text event writes, by event type. */
const TEXT_EVENTS: Record<string, { list: "content" | "summary"; field: string; from: string }> = {
  "response.output_text.delta": { list: "content", field: "text", from: "delta" },
  "response.output_text.done": { list: "content", field: "text", from: "text" },
  "response.refusal.delta": { list: "content", field: "refusal", from: "delta" },
  "response.refusal.done": { list: "content", field: "refusal", from: "refusal" },
  "response.reasoning_text.delta": { list: "content", field: "text", from: "delta" },
  "response.reasoning_text.done": { list: "content", field: "text", from: "text" },
  "response.reasoning_summary_text.delta": { list: "summary", field: "text", from: "delta" },
  "response.reasoning_summary_text.done": { list: "summary", field: "text", from: "text" },
};

/** The .done event that closes an open content part of each type, and its text field. */
const PART_DONE: Record<string, { type: string; field: string }> = {
  output_text: { type: "response.output_text.done", field: "text" },
  refusal: { type: "response.refusal.done", field: "refusal" },
  reasoning_text: { type: "response.reasoning_text.done", field: "text" },
};

/**
 * What a Responses stream showed of itself, for its ending: the response object of
 * response.created / in_progress, the last sequence_number, and the output items so far (kept up
 * to date from the item, part and delta events, like the SDKs' own accumulators).
 */
function responsesEnding() {
  let response: JsonObject | null = null;
  let sequence = -1;
  const items: JsonObject[] = [];
  const openItems = new Set<number>();
  const openParts = new Map<number, Set<number>>();
  const listOf = (item: JsonObject | undefined, name: string): unknown[] | null => {
    if (!item) return null;
    if (!Array.isArray(item[name])) item[name] = [];
    return item[name] as unknown[];
  };
  return {
    observe(type: string, event: JsonObject): void {
      if (typeof event.sequence_number === "number") sequence = Math.max(sequence, event.sequence_number);
      if (RESPONSE_STARTS.has(type)) {
        if (isObject(event.response)) response = event.response;
        return;
      }
      const at = event.output_index;
      if (typeof at !== "number" || !Number.isSafeInteger(at) || at < 0) return;
      const item = items[at];
      const index = typeof event.content_index === "number" ? event.content_index : event.summary_index;
      if (type === "response.output_item.added" || type === "response.output_item.done") {
        if (!isObject(event.item)) return;
        items[at] = event.item;
        if (type === "response.output_item.added") openItems.add(at);
        else openItems.delete(at);
      } else if (type === "response.content_part.added" || type === "response.content_part.done") {
        const content = listOf(item, "content");
        if (!content || typeof index !== "number" || !isObject(event.part)) return;
        content[index] = event.part;
        const parts = openParts.get(at) ?? new Set<number>();
        if (type === "response.content_part.added") parts.add(index);
        else parts.delete(index);
        openParts.set(at, parts);
      } else if (type === "response.reasoning_summary_part.added") {
        const summary = listOf(item, "summary");
        if (summary && typeof index === "number" && isObject(event.part)) summary[index] = event.part;
      } else if (
        type === "response.function_call_arguments.delta" ||
        type === "response.function_call_arguments.done"
      ) {
        const done = type.endsWith(".done");
        extend(item, "arguments", done ? event.arguments : event.delta, done);
      } else {
        const text = TEXT_EVENTS[type];
        if (!text || typeof index !== "number") return;
        extend(listOf(item, text.list)?.[index], text.field, event[text.from], type.endsWith(".done"));
      }
    },
    finish(usage: TokenUsage): string {
      let out = "";
      const emit = (type: string, fields: JsonObject): void => {
        sequence += 1;
        out += `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence, ...fields })}\n\n`;
      };
      let base = response;
      if (base === null) {
        base = {
          id: "resp_outlay_cut",
          object: "response",
          created_at: nowSeconds(),
          status: "in_progress",
          error: null,
          incomplete_details: null,
          model: "",
          output: [],
          usage: null,
        };
        // The SDKs accept nothing before response.created.
        emit("response.created", { response: base });
      }
      for (const at of [...openItems].sort((a, b) => a - b)) {
        const item = items[at];
        if (!item) continue;
        const itemId = typeof item.id === "string" ? item.id : null;
        const content = Array.isArray(item.content) ? item.content : [];
        for (const index of [...(openParts.get(at) ?? [])].sort((a, b) => a - b)) {
          const part: unknown = content[index];
          if (itemId === null || !isObject(part)) continue;
          const ids = { item_id: itemId, output_index: at, content_index: index };
          const done = typeof part.type === "string" ? PART_DONE[part.type] : undefined;
          if (done) {
            const extra = part.type === "refusal" ? {} : { logprobs: [] };
            emit(done.type, { ...ids, [done.field]: part[done.field] ?? "", ...extra });
          }
          emit("response.content_part.done", { ...ids, part });
        }
        if (itemId !== null && item.type === "function_call") {
          emit("response.function_call_arguments.done", {
            item_id: itemId,
            output_index: at,
            arguments: item.arguments ?? "",
          });
        }
        if ("status" in item) item.status = "incomplete";
        emit("response.output_item.done", { output_index: at, item });
      }
      const incomplete = {
        ...base,
        status: "incomplete",
        incomplete_details: { reason: "max_output_tokens" },
        output: items.filter(isObject),
        usage: responsesUsage(usage),
      };
      emit("response.incomplete", { response: incomplete });
      return out;
    },
  };
}

export function openaiStreamMeter(endpoint: string, stripUsageChunk: boolean): StreamMeter {
  let usage: TokenUsage | null = null;
  let chars = 0;
  let sawEnd = false;
  // The proxy asks for the usage chunk itself unless the client did: a client-asked one ends the stream too.
  const chat = chatEnding(endpoint, !stripUsageChunk);
  const responses = responsesEnding();
  return {
    onEvent(event, data) {
      if (data === "[DONE]") {
        sawEnd = true;
        return true;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(data);
      } catch {
        return true;
      }
      if (!isObject(parsed)) return true;
      if (endpoint === "responses") {
        const type = typeof parsed.type === "string" ? parsed.type : event;
        if (type === "response.output_text.delta" && typeof parsed.delta === "string") chars += parsed.delta.length;
        if (type && RESPONSE_DONE.has(type) && isObject(parsed.response)) {
          usage = openaiUsage(parsed.response.usage) ?? usage;
          sawEnd = true;
        }
        if (type) responses.observe(type, parsed);
        return true;
      }
      chars += textLength(parsed.choices);
      chat.observe(parsed);
      if (isObject(parsed.usage)) {
        usage = openaiUsage(parsed.usage) ?? usage;
        const usageOnly = Array.isArray(parsed.choices) && parsed.choices.length === 0;
        if (stripUsageChunk && usageOnly) return false;
      }
      return true;
    },
    usage: () => usage,
    outputChars: () => chars,
    partialUsage: () => null,
    sawEnd: () => sawEnd,
    finish(charged) {
      if (sawEnd) return "";
      return endpoint === "responses" ? responses.finish(charged) : chat.finish(charged);
    },
  };
}
