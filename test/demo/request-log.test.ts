// Demo upstream request log (GET/DELETE /_demo/requests) and client disconnects.
import { describe, expect, it } from "vitest";
import { createUpstreamApp } from "../../demo/upstream/app.ts";
import type { DemoRequestRecord } from "../../demo/upstream/request-log.ts";
import { OPENAI_AUTH, TARGETS, type Target, lastRecord, post, requestLog, sleep } from "./support.ts";

describe("client disconnect", () => {
  it("stops the generator and records completed: false", async () => {
    const app = createUpstreamApp();
    const target = TARGETS[0] as Target;
    const res = await post(app, target.streamPath, target.body(target.model, true), {
      ...target.headers,
      "x-demo-delay-ms": "5",
    });
    const reader = res.body?.getReader();
    if (reader === undefined) throw new Error("no body");
    await reader.read();
    await reader.read();
    await reader.read();
    await reader.cancel();
    await sleep(50);
    const record = await lastRecord(app);
    expect(record.completed).toBe(false);
    expect(record.outputChunks).toBe(2);
  });
});

describe("request log", () => {
  it("records every provider request, newest last, and DELETE clears it", async () => {
    const app = createUpstreamApp();
    for (const target of TARGETS)
      await (await post(app, target.path, target.body(target.model, false), target.headers)).text();
    const records = await requestLog(app);
    expect(records.map((r) => r.provider)).toEqual(["openai", "anthropic", "google"]);
    for (const record of records) {
      expect(record).toMatchObject({ stream: false, status: 200, completed: true, keyPresent: true, scenario: null });
      expect(record.usage).not.toBeNull();
    }
    const cleared = await app.request("/_demo/requests", { method: "DELETE" });
    expect(cleared.status).toBe(200);
    expect(await requestLog(app)).toEqual([]);
  });

  it("logs unknown provider routes and auth failures (keyPresent false), so 'not called' is provable", async () => {
    const app = createUpstreamApp();
    const res = await post(app, "/openai/v1/nope", {}, OPENAI_AUTH);
    expect(res.status).toBe(404);
    await post(app, "/openai/v1/chat/completions", { model: "gpt-4o-mini", messages: [] });
    const records = await requestLog(app);
    expect(records.map((r) => [r.path, r.status, r.keyPresent])).toEqual([
      ["/openai/v1/nope", 404, true],
      ["/openai/v1/chat/completions", 401, false],
    ]);
  });

  it("keeps at most 1,000 entries (configurable), dropping the oldest", async () => {
    const small = createUpstreamApp({ logLimit: 2 });
    for (let i = 0; i < 3; i++) await small.request("/openai/v1/models", { headers: OPENAI_AUTH });
    expect(await requestLog(small)).toHaveLength(2);
    const app = createUpstreamApp();
    for (let i = 0; i < 1005; i++) await app.request(`/openai/v1/models/m${i}`, { headers: OPENAI_AUTH });
    const records = await requestLog(app);
    expect(records).toHaveLength(1000);
    expect(records[0]?.model).toBe("m5");
    expect(records.at(-1)?.model).toBe("m1004");
  });

  it("keeps a per-test view (?test_id=) that other traffic neither fills nor pushes out", async () => {
    const app = createUpstreamApp({ logLimit: 3, testIdLimit: 2 });
    const mine = async (testId: string) =>
      ((await (await app.request(`/_demo/requests?test_id=${testId}`)).json()) as { requests: DemoRequestRecord[] })
        .requests;
    await app.request("/openai/v1/models/tagged", { headers: { ...OPENAI_AUTH, "x-test-id": "t-1" } });
    for (let i = 0; i < 5; i++) await app.request(`/openai/v1/models/other${i}`, { headers: OPENAI_AUTH });
    // The shared log has moved on; the test's own view still has its call, and only its call.
    expect((await requestLog(app)).map((r) => r.model)).toEqual(["other2", "other3", "other4"]);
    expect((await mine("t-1")).map((r) => r.model)).toEqual(["tagged"]);
    expect(await mine("t-never-sent")).toEqual([]);
    // Later fields (status, completion) are those of the same record.
    expect(await mine("t-1")).toMatchObject([{ status: 200, completed: true, headers: { "x-test-id": "t-1" } }]);
    // Only the most recently used test ids are kept.
    await app.request("/openai/v1/models/b", { headers: { ...OPENAI_AUTH, "x-test-id": "t-2" } });
    await app.request("/openai/v1/models/c", { headers: { ...OPENAI_AUTH, "x-test-id": "t-3" } });
    expect(await mine("t-1")).toEqual([]);
    expect((await mine("t-3")).map((r) => r.model)).toEqual(["c"]);
    // A base URL can carry the test id instead of a header: the call is served and filed alike.
    const viaPath = await app.request("/_demo/t/t-4/openai/v1/models/d", { headers: OPENAI_AUTH });
    expect(viaPath.status).toBe(200);
    expect((await mine("t-4")).map((r) => [r.path, r.model])).toEqual([["/openai/v1/models/d", "d"]]);
    const posted = await post(
      app,
      "/_demo/t/t-4/openai/v1/chat/completions",
      { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] },
      OPENAI_AUTH,
    );
    expect(posted.status).toBe(200);
    expect((await mine("t-4")).at(-1)).toMatchObject({ path: "/openai/v1/chat/completions", model: "gpt-4o-mini" });
    await app.request("/_demo/requests", { method: "DELETE" });
    expect(await mine("t-3")).toEqual([]);
  });

  it("never holds keys or message content; keeps only non-secret x-/anthropic-/openai- headers", async () => {
    const app = createUpstreamApp();
    const secret = "sk-SECRET-0123456789";
    const words = "PURPLE-ELEPHANT-CONTENT";
    await post(
      app,
      "/openai/v1/chat/completions",
      {
        model: "gpt-4o-mini",
        messages: [
          { role: "system", content: words },
          { role: "user", content: words },
        ],
      },
      {
        authorization: `Bearer ${secret}`,
        "x-demo-scenario": "slow",
        "x-demo-delay-ms": "0",
        "openai-organization": "org-1",
        "x-custom-token": secret,
        "x-trace": "t1",
        "user-agent": "ua",
      },
    );
    await post(
      app,
      "/anthropic/v1/messages",
      { model: "claude-sonnet-4-5", max_tokens: 5, system: words, messages: [{ role: "user", content: words }] },
      {
        "x-api-key": secret,
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "tools-2024",
        "x-other": `Bearer ${secret}`,
      },
    );
    await post(app, `/google/v1beta/models/gemini-2.5-flash:generateContent?key=${secret}`, {
      contents: [{ parts: [{ text: words }] }],
    });
    await post(
      app,
      "/google/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
      { contents: [{ parts: [{ text: words }] }] },
      { "x-goog-api-key": secret },
    );
    const dump = JSON.stringify(await requestLog(app));
    expect(dump).not.toContain(secret);
    expect(dump).not.toContain(words);
    expect(dump).not.toContain("This is the Outlay demo upstream");
    const [openai, anthropic, google] = await requestLog(app);
    expect(openai?.headers).toEqual({
      "x-demo-scenario": "slow",
      "x-demo-delay-ms": "0",
      "openai-organization": "org-1",
      "x-trace": "t1",
    });
    expect(anthropic?.headers).toEqual({ "anthropic-version": "2023-06-01", "anthropic-beta": "tools-2024" });
    expect(google?.path).toBe("/google/v1beta/models/gemini-2.5-flash:generateContent");
    expect(google?.keyPresent).toBe(true);
  });
});
