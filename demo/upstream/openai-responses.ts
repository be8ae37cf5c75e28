// OpenAI Responses API: POST /v1/responses, JSON and typed SSE events
// (response.created ... response.completed / response.incomplete).

import type { Frame } from "./sse.ts";
import { LIMIT_FIELDS, outputLimits } from "./limits.ts";
import { base62Id, hexId, unixSeconds } from "./ids.ts";
import { type JsonObject, isRecord, openaiResponsesTexts } from "./input-text.ts";
import { openExchange, positiveInt, scenarioFailure, type UpstreamContext } from "./respond.ts";
import {
  answerDeltas,
  argumentFragments,
  inputTokensFromTexts,
  isOpenAIReasoningModel,
  planOutput,
  toolArguments,
} from "./tokens.ts";
import { openaiProfile, openaiRequest } from "./openai.ts";

export interface ResponsesUsage {
  input_tokens: number;
  input_tokens_details: { cached_tokens: number };
  output_tokens: number;
  output_tokens_details: { reasoning_tokens: number };
  total_tokens: number;
}

export function responsesUsage(input: number, cached: number, output: number, reasoning: number): ResponsesUsage {
  return {
    input_tokens: input,
    input_tokens_details: { cached_tokens: cached },
    output_tokens: output,
    output_tokens_details: { reasoning_tokens: reasoning },
    total_tokens: input + output,
  };
}

function responsesTool(body: JsonObject): { name: string; arguments: string } | null {
  const tools = (Array.isArray(body.tools) ? body.tools : []).flatMap((tool) =>
    isRecord(tool) && tool.type === "function" && typeof tool.name === "string"
      ? [{ name: tool.name, parameters: tool.parameters }]
      : [],
  );
  const choice = body.tool_choice;
  if (tools.length === 0 || choice === "none") return null;
  const forcedName = isRecord(choice) && choice.type === "function" ? choice.name : undefined;
  const input = Array.isArray(body.input) ? body.input : [];
  const last: unknown = input[input.length - 1];
  const answered = isRecord(last) && last.type === "function_call_output";
  if (answered && choice !== "required" && forcedName === undefined) return null;
  const tool = tools.find((t) => t.name === forcedName) ?? tools[0];
  return tool === undefined ? null : { name: tool.name, arguments: toolArguments(tool.parameters) };
}

export async function openaiResponses(ctx: UpstreamContext, request: Request): Promise<Response> {
  const { exchange, denied } = await openExchange(ctx, request, openaiProfile);
  if (denied !== null) return denied;
  const parsed = await openaiRequest(exchange, request);
  if (parsed instanceof Response) return parsed;
  const { body, model, controls } = parsed;
  exchange.record.limits = outputLimits(body, LIMIT_FIELDS.responses);
  const maxTokens = positiveInt(body, "max_output_tokens");
  if (maxTokens === null)
    return exchange.fail("invalid_request", "Invalid 'max_output_tokens': expected a positive integer.");
  const failure = scenarioFailure(exchange, controls);
  if (failure !== null) return failure;

  const inputTokens = inputTokensFromTexts(openaiResponsesTexts(body));
  const cached = Math.min(controls.cachedTokens, inputTokens);
  const tool = responsesTool(body);
  const effort = isRecord(body.reasoning) ? body.reasoning.effort : undefined;
  const reasoningModel = isOpenAIReasoningModel(model);
  const plan = planOutput({
    naturalTokens: tool === null ? (controls.outputTokens ?? ctx.options.defaultOutputTokens) : 0,
    maxTokens,
    reasoningTokens:
      reasoningModel && effort !== "none" ? (controls.reasoningTokens ?? ctx.options.defaultReasoningTokens) : 0,
  });
  const deltas = answerDeltas(plan.textTokens);
  const fragments = tool === null ? [] : argumentFragments(tool.arguments);
  const usage = responsesUsage(
    inputTokens,
    cached,
    plan.reasoningTokens + deltas.length + fragments.length,
    plan.reasoningTokens,
  );
  const status = plan.truncated ? "incomplete" : "completed";
  const text = deltas.join("");

  const reasoningItem = reasoningModel ? { id: hexId("rs_", 48), type: "reasoning", summary: [] } : null;
  const messageId = hexId("msg_", 48);
  const textPart = (value: string): object => ({ type: "output_text", annotations: [], logprobs: [], text: value });
  const messageItem = (itemStatus: string, content: object[]): object => ({
    id: messageId,
    type: "message",
    status: itemStatus,
    content,
    role: "assistant",
  });
  const callId = base62Id("call_", 24);
  const callItemId = hexId("fc_", 48);
  const callItem = (itemStatus: string, args: string): object => ({
    id: callItemId,
    type: "function_call",
    status: itemStatus,
    arguments: args,
    call_id: callId,
    name: tool?.name ?? "",
  });
  const finalItem = tool !== null ? callItem("completed", tool.arguments) : messageItem(status, [textPart(text)]);
  const output = reasoningItem === null ? [finalItem] : [reasoningItem, finalItem];

  const responseId = hexId("resp_", 48);
  const createdAt = unixSeconds();
  const responseObject = (state: string, items: object[], reportedUsage: object | null): object => ({
    id: responseId,
    object: "response",
    created_at: createdAt,
    status: state,
    background: false,
    error: null,
    incomplete_details: state === "incomplete" ? { reason: "max_output_tokens" } : null,
    instructions: body.instructions ?? null,
    max_output_tokens: maxTokens ?? null,
    max_tool_calls: null,
    model,
    output: items,
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null,
    prompt_cache_key: null,
    reasoning: { effort: reasoningModel ? (effort ?? "medium") : null, summary: null },
    safety_identifier: null,
    service_tier: "default",
    store: body.store ?? true,
    temperature: body.temperature ?? 1,
    text: { format: { type: "text" }, verbosity: "medium" },
    tool_choice: body.tool_choice ?? "auto",
    tools: body.tools ?? [],
    top_logprobs: 0,
    top_p: body.top_p ?? 1,
    truncation: "disabled",
    usage: reportedUsage,
    user: null,
    metadata: body.metadata ?? {},
  });

  if (body.stream !== true) {
    return exchange.json(responseObject(status, output, usage), {
      controls,
      usage,
      pieces: deltas.length + fragments.length,
    });
  }

  function* frames(): Generator<Frame> {
    let sequence = 0;
    const event = (type: string, fields: object, kind: Frame["kind"], pieces?: number, reported?: object): Frame => ({
      event: type,
      data: { type, sequence_number: sequence++, ...fields },
      kind,
      ...(pieces === undefined ? {} : { pieces }),
      ...(reported === undefined ? {} : { usage: reported }),
    });
    yield event("response.created", { response: responseObject("in_progress", [], null) }, "meta");
    yield event("response.in_progress", { response: responseObject("in_progress", [], null) }, "meta");
    let index = 0;
    if (reasoningItem !== null) {
      yield event("response.output_item.added", { output_index: index, item: reasoningItem }, "meta");
      yield event("response.output_item.done", { output_index: index, item: reasoningItem }, "meta");
      index += 1;
    }
    const at = { output_index: index };
    if (tool === null) {
      const ids = { item_id: messageId, output_index: index, content_index: 0 };
      yield event("response.output_item.added", { ...at, item: messageItem("in_progress", []) }, "meta");
      yield event("response.content_part.added", { ...ids, part: textPart("") }, "meta");
      for (const delta of deltas) {
        yield event("response.output_text.delta", { ...ids, delta, logprobs: [] }, "delta", 1);
      }
      yield event("response.output_text.done", { ...ids, text, logprobs: [] }, "final");
      yield event("response.content_part.done", { ...ids, part: textPart(text) }, "final");
    } else {
      yield event("response.output_item.added", { ...at, item: callItem("in_progress", "") }, "meta");
      for (const delta of fragments) {
        yield event("response.function_call_arguments.delta", { item_id: callItemId, ...at, delta }, "delta", 1);
      }
      yield event(
        "response.function_call_arguments.done",
        { item_id: callItemId, ...at, arguments: tool.arguments },
        "final",
      );
    }
    yield event("response.output_item.done", { ...at, item: finalItem }, "final");
    const last = status === "completed" ? "response.completed" : "response.incomplete";
    yield event(last, { response: responseObject(status, output, usage) }, "final", undefined, usage);
  }
  return exchange.stream(frames(), { controls, framing: "sse" });
}
