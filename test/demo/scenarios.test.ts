// Demo upstream scenario controls: x-demo-scenario / model@scenario, delays, cut, bad_json.
import { describe, expect, it } from "vitest";
import { createUpstreamApp } from "../../demo/upstream/app.ts";
import {
  ANTHROPIC_AUTH,
  GOOGLE_AUTH,
  type Json,
  OPENAI_AUTH,
  TARGETS,
  type Target,
  lastRecord,
  parseSse,
  post,
  readUntilError,
} from "./support.ts";

const ERROR_SCENARIOS: Array<[string, Record<string, number>, Record<string, unknown>]> = [
  [
    "rate_limit",
    { openai: 429, anthropic: 429, google: 429 },
    {
      openai: { error: { type: "requests", code: "rate_limit_exceeded", param: null } },
      anthropic: { type: "error", error: { type: "rate_limit_error" } },
      google: { error: { code: 429, status: "RESOURCE_EXHAUSTED" } },
    },
  ],
  [
    "server_error",
    { openai: 500, anthropic: 500, google: 500 },
    {
      openai: { error: { type: "server_error" } },
      anthropic: { type: "error", error: { type: "api_error" } },
      google: { error: { code: 500, status: "INTERNAL" } },
    },
  ],
  [
    "overloaded",
    { openai: 503, anthropic: 529, google: 503 },
    {
      openai: { error: { type: "server_error" } },
      anthropic: { type: "error", error: { type: "overloaded_error" } },
      google: { error: { code: 503, status: "UNAVAILABLE" } },
    },
  ],
];

describe("error scenarios", () => {
  for (const [scenario, statuses, shapes] of ERROR_SCENARIOS) {
    for (const target of TARGETS) {
      it(`${scenario} on ${target.provider}, by header and by model suffix`, async () => {
        const app = createUpstreamApp();
        const byHeader = await post(app, target.path, target.body(target.model, false), {
          ...target.headers,
          "x-demo-scenario": scenario,
        });
        expect(byHeader.status).toBe(statuses[target.provider]);
        expect(await byHeader.json()).toMatchObject(shapes[target.provider] as Json);
        expect(byHeader.headers.get("retry-after")).toBe(scenario === "rate_limit" ? "1" : null);
        const suffixed = `${target.model}@${scenario}`;
        const path = target.provider === "google" ? target.path.replace(target.model, suffixed) : target.path;
        const bySuffix = await post(app, path, target.body(suffixed, false), target.headers);
        expect(bySuffix.status).toBe(statuses[target.provider]);
        const record = await lastRecord(app);
        expect(record).toMatchObject({
          model: target.model,
          scenario,
          status: statuses[target.provider],
          usage: null,
          completed: true,
        });
      });
    }
  }

  it("strips the scenario suffix from what is echoed back, and only for known scenario names", async () => {
    const app = createUpstreamApp();
    const res = await post(
      app,
      "/openai/v1/chat/completions",
      { model: "gpt-4o-mini@slow", messages: [{ role: "user", content: "x" }] },
      OPENAI_AUTH,
    );
    expect(((await res.json()) as { model: string }).model).toBe("gpt-4o-mini");
    const vertexStyle = await post(
      app,
      "/anthropic/v1/messages",
      { model: "claude-3-5-sonnet@20240620", max_tokens: 5, messages: [{ role: "user", content: "x" }] },
      ANTHROPIC_AUTH,
    );
    expect(((await vertexStyle.json()) as { model: string }).model).toBe("claude-3-5-sonnet@20240620");
    const encoded = await post(
      app,
      "/google/v1beta/models/gemini-2.5-flash%40rate_limit:generateContent",
      { contents: [{ parts: [{ text: "x" }] }] },
      GOOGLE_AUTH,
    );
    expect(encoded.status).toBe(429);
  });
});

describe("cut", () => {
  it("OpenAI stream: role chunk + 3 content chunks, never the usage chunk or [DONE], then a network error", async () => {
    const app = createUpstreamApp();
    const target = TARGETS[0] as Target;
    const res = await post(app, target.streamPath, target.body("gpt-4o-mini@cut", true), target.headers);
    expect(res.status).toBe(200);
    const { text, error } = await readUntilError(res);
    expect(error).not.toBeNull();
    const events = parseSse(text);
    expect(events).toHaveLength(4);
    expect(text).not.toContain("[DONE]");
    expect(text).not.toContain('"usage":{');
    expect(await lastRecord(app)).toMatchObject({ completed: false, outputChunks: 3, usage: null, scenario: "cut" });
  });

  it("Anthropic stream: message_start is sent, message_delta/message_stop are not", async () => {
    const app = createUpstreamApp();
    const target = TARGETS[1] as Target;
    const res = await post(app, target.streamPath, target.body(target.model, true), {
      ...target.headers,
      "x-demo-scenario": "cut",
    });
    const { text, error } = await readUntilError(res);
    expect(error).not.toBeNull();
    const types = parseSse(text).map((e) => e.event);
    expect(types[0]).toBe("message_start");
    expect(types).not.toContain("message_delta");
    expect(types).not.toContain("message_stop");
    const record = await lastRecord(app);
    expect(record).toMatchObject({ completed: false, outputChunks: 3 });
    expect(record.usage).toMatchObject({ output_tokens: 1 });
  });

  it("Gemini stream: a few chunks without finishReason", async () => {
    const app = createUpstreamApp();
    const target = TARGETS[2] as Target;
    const res = await post(app, target.streamPath, target.body(target.model, true), {
      ...target.headers,
      "x-demo-scenario": "cut",
    });
    const { text, error } = await readUntilError(res);
    expect(error).not.toBeNull();
    expect(text).not.toContain("finishReason");
    expect(text.split("\r\n\r\n").filter((f) => f !== "")).toHaveLength(3);
  });

  it("JSON: a truncated body, then a network error", async () => {
    for (const target of TARGETS) {
      const app = createUpstreamApp();
      const res = await post(app, target.path, target.body(target.model, false), {
        ...target.headers,
        "x-demo-scenario": "cut",
      });
      expect(res.status).toBe(200);
      const { text, error } = await readUntilError(res);
      expect(error).not.toBeNull();
      expect(text.length).toBeGreaterThan(0);
      expect(() => JSON.parse(text) as unknown).toThrow(SyntaxError);
      expect(await lastRecord(app)).toMatchObject({ completed: false, usage: null });
    }
  });
});

describe("slow, first byte, bad_json", () => {
  it("slow delays every stream chunk by x-demo-delay-ms", async () => {
    const app = createUpstreamApp();
    const target = TARGETS[0] as Target;
    const started = Date.now();
    const res = await post(app, target.streamPath, target.body(target.model, true), {
      ...target.headers,
      "x-demo-scenario": "slow",
      "x-demo-delay-ms": "10",
      "x-demo-output-tokens": "5",
    });
    const text = await res.text();
    // role + 5 content + finish + usage + [DONE] = 9 frames, 10 ms each
    expect(parseSse(text)).toHaveLength(9);
    expect(Date.now() - started).toBeGreaterThanOrEqual(80);
  });

  it("x-demo-first-byte-ms delays the response headers, also for errors", async () => {
    const app = createUpstreamApp();
    const target = TARGETS[1] as Target;
    const started = Date.now();
    const res = await post(app, target.path, target.body(target.model, false), {
      ...target.headers,
      "x-demo-first-byte-ms": "120",
      "x-demo-scenario": "rate_limit",
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(110);
    expect(res.status).toBe(429);
  });

  it("bad_json answers 200 with a malformed JSON body", async () => {
    for (const target of TARGETS) {
      const app = createUpstreamApp();
      const res = await post(app, target.path, target.body(target.model, false), {
        ...target.headers,
        "x-demo-scenario": "bad_json",
      });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(() => JSON.parse(text) as unknown).toThrow(SyntaxError);
    }
  });

  it("bad_json on a stream corrupts the first delta frame and ends normally", async () => {
    const app = createUpstreamApp();
    const target = TARGETS[1] as Target;
    const res = await post(app, target.streamPath, target.body(target.model, true), {
      ...target.headers,
      "x-demo-scenario": "bad_json",
    });
    const events = parseSse(await res.text());
    const broken = events.filter((e) => {
      try {
        JSON.parse(e.data);
        return false;
      } catch {
        return true;
      }
    });
    expect(broken.map((e) => e.event)).toEqual(["content_block_delta"]);
    expect(events.at(-1)?.event).toBe("message_stop");
  });
});
