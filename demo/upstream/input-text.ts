// Which parts of a request count as input text, per provider wire format. Input tokens are
// `inputTokensFromTexts(<these texts>)` (see tokens.ts). Tool definitions, images, audio and
// files are not counted.

export type JsonObject = Record<string, unknown>;

export function isRecord(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function pushString(out: string[], value: unknown): void {
  if (typeof value === "string") out.push(value);
}

/** Text of content parts that carry a `text` string (OpenAI, Anthropic and Gemini parts alike). */
function pushPartTexts(out: string[], parts: unknown): void {
  for (const part of asArray(parts)) if (isRecord(part)) pushString(out, part.text);
}

/**
 * OpenAI Chat Completions: every message's `content` (a string, or the `text` of its parts) and
 * the `function.arguments` of assistant `tool_calls`.
 */
export function openaiChatTexts(body: JsonObject): string[] {
  const out: string[] = [];
  for (const message of asArray(body.messages)) {
    if (!isRecord(message)) continue;
    if (typeof message.content === "string") out.push(message.content);
    else pushPartTexts(out, message.content);
    for (const call of asArray(message.tool_calls)) {
      if (isRecord(call) && isRecord(call.function)) pushString(out, call.function.arguments);
    }
  }
  return out;
}

/**
 * OpenAI Responses: `instructions`, then `input` (a string, or items: message `content` string
 * or part `text`s, `function_call.arguments`, `function_call_output.output`).
 */
export function openaiResponsesTexts(body: JsonObject): string[] {
  const out: string[] = [];
  pushString(out, body.instructions);
  if (typeof body.input === "string") {
    out.push(body.input);
    return out;
  }
  for (const item of asArray(body.input)) {
    if (!isRecord(item)) continue;
    if (typeof item.content === "string") out.push(item.content);
    else pushPartTexts(out, item.content);
    if (item.type === "function_call") pushString(out, item.arguments);
    if (item.type === "function_call_output") {
      if (typeof item.output === "string") out.push(item.output);
      else pushPartTexts(out, item.output);
    }
  }
  return out;
}

/** OpenAI Embeddings: the input strings (token-array inputs are counted by length instead). */
export function openaiEmbeddingTexts(input: unknown): string[] {
  if (typeof input === "string") return [input];
  return asArray(input).filter((item): item is string => typeof item === "string");
}

/**
 * Anthropic Messages: `system` (string or text blocks), then each message's `content` (string or
 * blocks: `text`, `thinking`, `tool_use` input as JSON, `tool_result` content).
 */
export function anthropicTexts(body: JsonObject): string[] {
  const out: string[] = [];
  if (typeof body.system === "string") out.push(body.system);
  else pushPartTexts(out, body.system);
  for (const message of asArray(body.messages)) {
    if (!isRecord(message)) continue;
    if (typeof message.content === "string") {
      out.push(message.content);
      continue;
    }
    for (const block of asArray(message.content)) {
      if (!isRecord(block)) continue;
      pushString(out, block.text);
      pushString(out, block.thinking);
      if (block.type === "tool_use") out.push(JSON.stringify(block.input ?? {}));
      if (block.type === "tool_result") {
        if (typeof block.content === "string") out.push(block.content);
        else pushPartTexts(out, block.content);
      }
    }
  }
  return out;
}

function pushGeminiParts(out: string[], content: unknown): void {
  if (!isRecord(content)) return;
  for (const part of asArray(content.parts)) {
    if (!isRecord(part)) continue;
    pushString(out, part.text);
    if (isRecord(part.functionCall)) out.push(JSON.stringify(part.functionCall.args ?? {}));
    if (isRecord(part.functionResponse)) out.push(JSON.stringify(part.functionResponse.response ?? {}));
  }
}

/**
 * Gemini: `systemInstruction` parts, then `contents[].parts[]` (`text`, `functionCall.args` and
 * `functionResponse.response` as JSON).
 */
export function geminiTexts(body: JsonObject): string[] {
  const out: string[] = [];
  pushGeminiParts(out, body.systemInstruction);
  for (const content of asArray(body.contents)) pushGeminiParts(out, content);
  return out;
}
