// Helpers for the demo-upstream tests: requests against an in-process app, SSE parsing, log reads.
import type { Hono } from "hono";
import type { DemoRequestRecord } from "../../demo/upstream/request-log.ts";

export type Json = Record<string, unknown>;

export interface SseEvent {
  event: string | undefined;
  data: string;
}

/** Splits an SSE body into events (blank-line separated, `\n` or `\r\n`). */
export function parseSse(text: string): SseEvent[] {
  return text
    .split(/\r?\n\r?\n/)
    .filter((block) => block.trim() !== "")
    .map((block) => {
      let event: string | undefined;
      const data: string[] = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data.push(line.slice(6));
      }
      return { event, data: data.join("\n") };
    });
}

/** The JSON payloads of an SSE body, skipping `[DONE]`. */
export function sseJson(text: string): Json[] {
  return parseSse(text)
    .filter((e) => e.data !== "[DONE]")
    .map((e) => JSON.parse(e.data) as Json);
}

export async function post(
  app: Hono,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return app.request(path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

export const OPENAI_AUTH = { authorization: "Bearer sk-demo-test-key" };
export const ANTHROPIC_AUTH = { "x-api-key": "sk-ant-demo-test-key", "anthropic-version": "2023-06-01" };
export const GOOGLE_AUTH = { "x-goog-api-key": "goog-demo-test-key" };

/** Reads a body that is expected to fail; returns what arrived before the failure. */
export async function readUntilError(res: Response): Promise<{ text: string; error: unknown }> {
  const reader = res.body?.getReader();
  if (reader === undefined) throw new Error("no body");
  const decoder = new TextDecoder();
  let text = "";
  for (;;) {
    try {
      const { done, value } = await reader.read();
      if (done) return { text, error: null };
      text += decoder.decode(value, { stream: true });
    } catch (error) {
      return { text, error };
    }
  }
}

export async function requestLog(app: Hono): Promise<DemoRequestRecord[]> {
  const res = await app.request("/_demo/requests");
  return ((await res.json()) as { requests: DemoRequestRecord[] }).requests;
}

export async function lastRecord(app: Hono): Promise<DemoRequestRecord> {
  const records = await requestLog(app);
  const last = records[records.length - 1];
  if (last === undefined) throw new Error("request log is empty");
  return last;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** One JSON + one stream endpoint per provider, with a body builder. */
export type Target = {
  provider: string;
  path: string;
  streamPath: string;
  headers: Record<string, string>;
  body: (model: string, stream: boolean) => Json;
  model: string;
};

export const TARGETS: Target[] = [
  {
    provider: "openai",
    path: "/openai/v1/chat/completions",
    streamPath: "/openai/v1/chat/completions",
    headers: OPENAI_AUTH,
    model: "gpt-4o-mini",
    body: (model, stream) => ({
      model,
      messages: [{ role: "user", content: "hi" }],
      ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
    }),
  },
  {
    provider: "anthropic",
    path: "/anthropic/v1/messages",
    streamPath: "/anthropic/v1/messages",
    headers: ANTHROPIC_AUTH,
    model: "claude-sonnet-4-5",
    body: (model, stream) => ({ model, max_tokens: 100, stream, messages: [{ role: "user", content: "hi" }] }),
  },
  {
    provider: "google",
    path: "/google/v1beta/models/gemini-2.5-flash:generateContent",
    streamPath: "/google/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
    headers: GOOGLE_AUTH,
    model: "gemini-2.5-flash",
    body: () => ({ contents: [{ role: "user", parts: [{ text: "hi" }] }] }),
  },
];
