// Demo upstream, OpenAI wire format: Responses API, Embeddings, Models.
import { describe, expect, it } from "vitest";
import { createUpstreamApp } from "../../demo/upstream/app.ts";
import { openaiResponsesTexts } from "../../demo/upstream/input-text.ts";
import { answerText, inputTokensFromTexts } from "../../demo/upstream/tokens.ts";
import { type Json, OPENAI_AUTH, lastRecord, parseSse, post, sseJson } from "./support.ts";

const RESPONSES = "/openai/v1/responses";

describe("responses API", () => {
  it("answers JSON with output items and Responses usage", async () => {
    const app = createUpstreamApp();
    const body = {
      model: "gpt-4.1-mini",
      instructions: "i".repeat(8),
      input: [{ role: "user", content: [{ type: "input_text", text: "t".repeat(8) }] }],
    };
    expect(inputTokensFromTexts(openaiResponsesTexts(body))).toBe(4);
    const res = await post(app, RESPONSES, body, OPENAI_AUTH);
    const json = (await res.json()) as Json;
    expect(json).toMatchObject({
      object: "response",
      status: "completed",
      model: "gpt-4.1-mini",
      incomplete_details: null,
    });
    expect(json.id).toMatch(/^resp_/);
    expect(json.output).toMatchObject([
      {
        type: "message",
        role: "assistant",
        status: "completed",
        content: [{ type: "output_text", text: answerText(24) }],
      },
    ]);
    expect(json.usage).toEqual({
      input_tokens: 4,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 24,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 28,
    });
  });

  it("streams typed events ending in response.completed with usage", async () => {
    const app = createUpstreamApp();
    const res = await post(
      app,
      RESPONSES,
      { model: "o4-mini", input: "hello", stream: true },
      { ...OPENAI_AUTH, "x-demo-cached-tokens": "1" },
    );
    const events = parseSse(await res.text());
    const types = events.map((e) => e.event);
    const payloads = events.map((e) => JSON.parse(e.data) as Json);
    expect(payloads.map((p) => p.type)).toEqual(types);
    expect(payloads.map((p) => p.sequence_number)).toEqual(payloads.map((_, i) => i));
    expect(types).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added", // reasoning item
      "response.output_item.done",
      "response.output_item.added", // message
      "response.content_part.added",
      ...Array<string>(24).fill("response.output_text.delta"),
      "response.output_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.completed",
    ]);
    const text = payloads
      .filter((p) => p.type === "response.output_text.delta")
      .map((p) => p.delta as string)
      .join("");
    expect(text).toBe(answerText(24));
    const completed = payloads.at(-1)?.response as Json;
    expect(completed.usage).toEqual({
      input_tokens: 2,
      input_tokens_details: { cached_tokens: 1 },
      output_tokens: 40,
      output_tokens_details: { reasoning_tokens: 16 },
      total_tokens: 42,
    });
    expect((await lastRecord(app)).usage).toEqual(completed.usage);
  });

  it("ends with response.incomplete when max_output_tokens cuts the answer", async () => {
    const app = createUpstreamApp();
    const res = await post(
      app,
      RESPONSES,
      { model: "gpt-4o", input: "hello", stream: true, max_output_tokens: 3 },
      OPENAI_AUTH,
    );
    const payloads = sseJson(await res.text());
    const last = payloads.at(-1);
    expect(last?.type).toBe("response.incomplete");
    expect(last?.response).toMatchObject({
      status: "incomplete",
      incomplete_details: { reason: "max_output_tokens" },
      usage: { output_tokens: 3 },
    });
  });

  it("streams a function call with argument deltas", async () => {
    const app = createUpstreamApp();
    const tools = [
      { type: "function", name: "lookup", parameters: { type: "object", properties: { city: { type: "string" } } } },
    ];
    const res = await post(app, RESPONSES, { model: "gpt-4o", input: "x", tools, stream: true }, OPENAI_AUTH);
    const payloads = sseJson(await res.text());
    const args = payloads.filter((p) => p.type === "response.function_call_arguments.delta").map((p) => p.delta);
    expect(args.join("")).toBe('{"city":"Paris"}');
    const done = payloads.find((p) => p.type === "response.output_item.done");
    expect(done?.item).toMatchObject({
      type: "function_call",
      name: "lookup",
      arguments: '{"city":"Paris"}',
      status: "completed",
    });
    expect(payloads.at(-1)?.response).toMatchObject({ usage: { output_tokens: args.length } });
  });
});

describe("embeddings and models", () => {
  it("returns float vectors by default and the same vectors as little-endian float32 base64", async () => {
    const app = createUpstreamApp();
    const input = ["hello world", "bye"];
    const floats = (await (
      await post(app, "/openai/v1/embeddings", { model: "text-embedding-3-small", input }, OPENAI_AUTH)
    ).json()) as {
      data: Array<{ object: string; index: number; embedding: number[] }>;
      usage: Json;
      model: string;
    };
    expect(floats.data).toHaveLength(2);
    expect(floats.data[1]?.index).toBe(1);
    expect(floats.data[0]?.embedding).toHaveLength(1536);
    // 11 + 3 characters -> 4 tokens
    expect(floats.usage).toEqual({ prompt_tokens: 4, total_tokens: 4 });
    const b64 = (await (
      await post(
        app,
        "/openai/v1/embeddings",
        { model: "text-embedding-3-small", input, encoding_format: "base64", dimensions: 8 },
        OPENAI_AUTH,
      )
    ).json()) as { data: Array<{ embedding: string }> };
    const bytes = Uint8Array.from(atob(b64.data[0]?.embedding ?? ""), (c) => c.charCodeAt(0));
    const view = new DataView(bytes.buffer);
    const decoded = Array.from({ length: bytes.length / 4 }, (_, i) => view.getFloat32(i * 4, true));
    expect(decoded).toHaveLength(8);
    const small = (await (
      await post(app, "/openai/v1/embeddings", { model: "text-embedding-3-small", input, dimensions: 8 }, OPENAI_AUTH)
    ).json()) as { data: Array<{ embedding: number[] }> };
    expect(decoded).toEqual(small.data[0]?.embedding);
  });

  it("counts token-array inputs by length and refuses empty input", async () => {
    const app = createUpstreamApp();
    const res = await post(
      app,
      "/openai/v1/embeddings",
      {
        model: "text-embedding-3-large",
        input: [
          [1, 2, 3],
          [4, 5],
        ],
        dimensions: 4,
      },
      OPENAI_AUTH,
    );
    expect(((await res.json()) as { usage: Json }).usage).toEqual({ prompt_tokens: 5, total_tokens: 5 });
    const bad = await post(app, "/openai/v1/embeddings", { model: "text-embedding-3-large", input: "" }, OPENAI_AUTH);
    expect(bad.status).toBe(400);
  });

  it("lists models", async () => {
    const app = createUpstreamApp();
    const res = await app.request("/openai/v1/models", { headers: OPENAI_AUTH });
    const body = (await res.json()) as { object: string; data: Array<{ id: string; object: string }> };
    expect(body.object).toBe("list");
    expect(body.data.map((m) => m.id)).toContain("gpt-4o-mini");
  });
});
