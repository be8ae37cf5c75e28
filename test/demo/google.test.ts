// Demo upstream, Gemini wire format: generateContent, streamGenerateContent, countTokens.
import { describe, expect, it } from "vitest";
import { createUpstreamApp } from "../../demo/upstream/app.ts";
import { geminiTexts } from "../../demo/upstream/input-text.ts";
import { answerText, inputTokensFromTexts } from "../../demo/upstream/tokens.ts";
import { GOOGLE_AUTH, type Json, lastRecord, post } from "./support.ts";

const model = (name: string, method: string) => `/google/v1beta/models/${name}:${method}`;
const contents = (text: string) => [{ role: "user", parts: [{ text }] }];

type Candidate = { content: { role: string; parts?: Array<Json> }; finishReason?: string; index: number };
type GenerateResponse = { candidates: Candidate[]; usageMetadata: Json; modelVersion: string; responseId: string };

function sseChunks(text: string): GenerateResponse[] {
  expect(text.endsWith("\r\n\r\n")).toBe(true);
  return text
    .split("\r\n\r\n")
    .filter((frame) => frame !== "")
    .map((frame) => {
      expect(frame.startsWith("data: ")).toBe(true);
      return JSON.parse(frame.slice(6)) as GenerateResponse;
    });
}

describe("generateContent", () => {
  it("answers with candidates, usageMetadata, modelVersion and responseId", async () => {
    const app = createUpstreamApp();
    const body = { systemInstruction: { parts: [{ text: "s".repeat(6) }] }, contents: contents("u".repeat(10)) };
    expect(inputTokensFromTexts(geminiTexts(body))).toBe(4);
    const res = await post(app, model("gemini-2.0-flash", "generateContent"), body, GOOGLE_AUTH);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json; charset=UTF-8");
    const json = (await res.json()) as GenerateResponse;
    expect(json.candidates).toEqual([
      { content: { parts: [{ text: answerText(24) }], role: "model" }, finishReason: "STOP", index: 0 },
    ]);
    expect(json.usageMetadata).toEqual({
      promptTokenCount: 4,
      candidatesTokenCount: 24,
      totalTokenCount: 28,
      promptTokensDetails: [{ modality: "TEXT", tokenCount: 4 }],
    });
    expect(json.modelVersion).toBe("gemini-2.0-flash");
    expect(typeof json.responseId).toBe("string");
    const record = await lastRecord(app);
    expect(record).toMatchObject({ provider: "google", model: "gemini-2.0-flash", id: json.responseId });
    expect(record.usage).toEqual(json.usageMetadata);
  });

  it("reports thoughtsTokenCount (outside candidatesTokenCount) for 2.5 and 3 models, cached tokens inside the prompt", async () => {
    const app = createUpstreamApp();
    for (const name of ["gemini-2.5-flash", "gemini-3-pro-preview", "gemini-2.5-pro"]) {
      const res = await post(
        app,
        model(name, "generateContent"),
        { contents: contents("x".repeat(40)) },
        { ...GOOGLE_AUTH, "x-demo-cached-tokens": "4" },
      );
      const json = (await res.json()) as GenerateResponse;
      expect(json.usageMetadata).toEqual({
        promptTokenCount: 10,
        candidatesTokenCount: 24,
        totalTokenCount: 10 + 24 + 16,
        cachedContentTokenCount: 4,
        promptTokensDetails: [{ modality: "TEXT", tokenCount: 10 }],
        cacheTokensDetails: [{ modality: "TEXT", tokenCount: 4 }],
        thoughtsTokenCount: 16,
      });
    }
    const off = await post(
      app,
      model("gemini-2.5-flash", "generateContent"),
      { contents: contents("x"), generationConfig: { thinkingConfig: { thinkingBudget: 0 } } },
      GOOGLE_AUTH,
    );
    expect(((await off.json()) as GenerateResponse).usageMetadata.thoughtsTokenCount).toBeUndefined();
    const old = await post(
      app,
      model("gemini-1.5-flash-002", "generateContent"),
      { contents: contents("x") },
      { ...GOOGLE_AUTH, "x-demo-reasoning-tokens": "9" },
    );
    expect(((await old.json()) as GenerateResponse).usageMetadata.thoughtsTokenCount).toBeUndefined();
  });

  it("stops with MAX_TOKENS at generationConfig.maxOutputTokens (thoughts count against it)", async () => {
    const app = createUpstreamApp();
    const res = await post(
      app,
      model("gemini-2.5-flash", "generateContent"),
      { contents: contents("x"), generationConfig: { maxOutputTokens: 20 } },
      GOOGLE_AUTH,
    );
    const json = (await res.json()) as GenerateResponse;
    expect(json.candidates[0]?.finishReason).toBe("MAX_TOKENS");
    expect(json.candidates[0]?.content.parts).toEqual([{ text: answerText(4) }]);
    expect(json.usageMetadata).toMatchObject({ candidatesTokenCount: 4, thoughtsTokenCount: 16, totalTokenCount: 21 });
  });

  it("calls a declared function", async () => {
    const app = createUpstreamApp();
    const tools = [
      {
        functionDeclarations: [
          { name: "get_weather", parameters: { type: "OBJECT", properties: { city: { type: "STRING" } } } },
        ],
      },
    ];
    const res = await post(
      app,
      model("gemini-2.0-flash", "generateContent"),
      { contents: contents("weather?"), tools },
      GOOGLE_AUTH,
    );
    const json = (await res.json()) as GenerateResponse;
    expect(json.candidates[0]).toMatchObject({
      content: { role: "model", parts: [{ functionCall: { name: "get_weather", args: { city: "Paris" } } }] },
      finishReason: "STOP",
    });
    expect(json.usageMetadata.candidatesTokenCount).toBe(5);
    const none = await post(
      app,
      model("gemini-2.0-flash", "generateContent"),
      { contents: contents("weather?"), tools, toolConfig: { functionCallingConfig: { mode: "NONE" } } },
      GOOGLE_AUTH,
    );
    expect(((await none.json()) as GenerateResponse).candidates[0]?.content.parts).toEqual([{ text: answerText(24) }]);
  });
});

describe("streamGenerateContent", () => {
  it("sends `data: <json>\\r\\n\\r\\n` chunks with running usage; the last has finishReason and final counts", async () => {
    const app = createUpstreamApp();
    const res = await post(
      app,
      `${model("gemini-2.5-flash", "streamGenerateContent")}?alt=sse`,
      { contents: contents("x".repeat(8)) },
      GOOGLE_AUTH,
    );
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const chunks = sseChunks(await res.text());
    expect(chunks).toHaveLength(24);
    expect(chunks.map((c) => c.candidates[0]?.content.parts?.[0]?.text).join("")).toBe(answerText(24));
    expect(chunks.slice(0, -1).every((c) => c.candidates[0]?.finishReason === undefined)).toBe(true);
    chunks.forEach((chunk, i) => {
      expect(chunk.usageMetadata).toMatchObject({
        promptTokenCount: 2,
        candidatesTokenCount: i + 1,
        thoughtsTokenCount: 16,
      });
      expect(chunk.responseId).toBe(chunks[0]?.responseId);
    });
    const last = chunks.at(-1);
    expect(last?.candidates[0]?.finishReason).toBe("STOP");
    expect(last?.usageMetadata).toMatchObject({ candidatesTokenCount: 24, totalTokenCount: 2 + 24 + 16 });
    const record = await lastRecord(app);
    expect(record).toMatchObject({ stream: true, completed: true, outputChunks: 24, usage: last?.usageMetadata });
  });

  it("without alt=sse, streams a JSON array", async () => {
    const app = createUpstreamApp();
    const res = await post(
      app,
      model("gemini-2.0-flash", "streamGenerateContent"),
      { contents: contents("x"), generationConfig: { maxOutputTokens: 3 } },
      GOOGLE_AUTH,
    );
    const chunks = JSON.parse(await res.text()) as GenerateResponse[];
    expect(chunks).toHaveLength(3);
    expect(chunks.at(-1)?.candidates[0]?.finishReason).toBe("MAX_TOKENS");
  });

  it("streams a function call as one chunk", async () => {
    const app = createUpstreamApp();
    const tools = [
      {
        functionDeclarations: [
          { name: "lookup", parametersJsonSchema: { type: "object", properties: { q: { type: "string" } } } },
        ],
      },
    ];
    const res = await post(
      app,
      `${model("gemini-2.5-flash", "streamGenerateContent")}?alt=sse`,
      { contents: contents("x"), tools },
      GOOGLE_AUTH,
    );
    const chunks = sseChunks(await res.text());
    expect(chunks).toHaveLength(1);
    expect(chunks[0]?.candidates[0]?.content.parts?.[0]).toMatchObject({
      functionCall: { name: "lookup", args: { q: "Paris" } },
    });
  });
});

describe("countTokens and errors", () => {
  it("counts tokens of contents or of a generateContentRequest", async () => {
    const app = createUpstreamApp();
    const direct = await post(
      app,
      model("gemini-2.5-flash", "countTokens"),
      { contents: contents("x".repeat(9)) },
      GOOGLE_AUTH,
    );
    expect(await direct.json()).toEqual({ totalTokens: 3, promptTokensDetails: [{ modality: "TEXT", tokenCount: 3 }] });
    const wrapped = await post(
      app,
      model("gemini-2.5-flash", "countTokens"),
      { generateContentRequest: { model: "models/gemini-2.5-flash", contents: contents("x".repeat(9)) } },
      GOOGLE_AUTH,
    );
    expect(((await wrapped.json()) as Json).totalTokens).toBe(3);
  });

  it("takes the key from x-goog-api-key or ?key=, refuses a missing or `invalid` key with 401 UNAUTHENTICATED", async () => {
    const app = createUpstreamApp();
    const body = { contents: contents("x") };
    expect((await post(app, `${model("gemini-2.0-flash", "generateContent")}?key=abc`, body)).status).toBe(200);
    for (const res of [
      await post(app, model("gemini-2.0-flash", "generateContent"), body),
      await post(app, model("gemini-2.0-flash", "generateContent"), body, { "x-goog-api-key": "invalid" }),
      await post(app, `${model("gemini-2.0-flash", "generateContent")}?key=invalid`, body),
    ]) {
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ error: { code: 401, status: "UNAUTHENTICATED" } });
    }
  });

  it("refuses malformed JSON, missing contents and unknown methods in Google's shape", async () => {
    const app = createUpstreamApp();
    const bad = await post(app, model("gemini-2.0-flash", "generateContent"), "{nope", GOOGLE_AUTH);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 400, status: "INVALID_ARGUMENT" } });
    const empty = await post(app, model("gemini-2.0-flash", "generateContent"), {}, GOOGLE_AUTH);
    expect(empty.status).toBe(400);
    expect(((await empty.json()) as { error: { message: string } }).error.message).toContain("contents");
    const unknown = await post(app, model("gemini-2.0-flash", "predict"), { contents: contents("x") }, GOOGLE_AUTH);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: 404, status: "NOT_FOUND" } });
  });
});
