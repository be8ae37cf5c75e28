// call.admitted in the audit index as runs (audit_call_runs, migration 0013): stored once whatever
// the delivery (redelivered, sent back alone, a pack after some of its events, two writes that
// race), read merged with the other types in seq order by the API's and the export's pages and by
// /activity's calls category (newest first, by key, by time), through the Worker's real queue()
// handler where the consumer is involved.
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { AuditEvent } from "../../shared/audit.ts";
import { newId } from "../../shared/ids.ts";
import worker from "../../workers/index.ts";
import {
  auditEventsAfter,
  auditEventsBefore,
  auditExportPage,
  CALL_RUN_MAX,
  callRunStatements,
  tenantDb,
} from "../../workers/store/index.ts";

const T0 = Date.UTC(2026, 10, 20, 10, 0);

function call(tenantId: string, seq: number, keyId = "keyaaaaaaaaa"): AuditEvent {
  return {
    v: 1,
    tenantId,
    seq,
    at: T0 + seq * 1_000,
    type: "call.admitted",
    actor: { kind: "key", id: keyId },
    requestId: `req_${String(seq).padStart(8, "a")}`,
    subject: null,
    data: { provider: "openai", model: "gpt-4o-mini", heldNanoUsd: "0", tokens: 0 },
  } as AuditEvent;
}

function other(tenantId: string, seq: number): AuditEvent {
  return {
    v: 1,
    tenantId,
    seq,
    at: T0 + seq * 1_000,
    type: "key.created",
    actor: { kind: "system" },
    requestId: null,
    subject: null,
    data: { name: `k${seq}` },
  } as AuditEvent;
}

const pack = (tenantId: string, events: AuditEvent[]) => ({ v: 1, pack: "audit", tenantId, events });

async function deliver(bodies: unknown[]) {
  const batch = createMessageBatch(
    "outlay-audit",
    bodies.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch as MessageBatch, env);
  return getQueueResult(batch, ctx);
}

const all = (tenantId: string) =>
  auditEventsAfter(tenantDb(env.DB, tenantId), { after: 0, type: null, limit: 1_000_000 });
const seqs = async (tenantId: string) => (await all(tenantId)).map((r) => r.seq);
const runs = async (tenantId: string) =>
  (
    await env.DB.prepare("SELECT first_seq, last_seq FROM audit_call_runs WHERE tenant_id = ? ORDER BY first_seq")
      .bind(tenantId)
      .all<{ first_seq: number; last_seq: number }>()
  ).results.map((r) => [r.first_seq, r.last_seq]);

describe("call.admitted runs", () => {
  it("are stored as runs of consecutive seqs beside the other types, and read back as the events were", async () => {
    const t = newId();
    const events = [1, 2, 3, 4, 5].map((s) => call(t, s));
    events.push(other(t, 6), call(t, 7), call(t, 8));
    const result = await deliver([pack(t, events)]);
    expect(result.explicitAcks).toEqual(["m0"]);
    expect(await runs(t)).toEqual([
      [1, 5],
      [7, 8],
    ]);
    const inTable = await env.DB.prepare("SELECT seq FROM audit_events WHERE tenant_id = ?").bind(t).all();
    expect(inTable.results).toEqual([{ seq: 6 }]);
    const rows = await all(t);
    expect(rows.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(rows[0]).toEqual({
      seq: 1,
      at: T0 + 1_000,
      type: "call.admitted",
      actor_kind: "key",
      actor_id: "keyaaaaaaaaa",
      request_id: "req_aaaaaaa1",
      subject: null,
      data: JSON.stringify(events[0]?.data),
    });
  });

  it("a redelivery, or an event of them sent back alone, stores nothing twice", async () => {
    const t = newId();
    const events = [1, 2, 3].map((s) => call(t, s));
    await deliver([pack(t, events)]);
    await deliver([pack(t, events), call(t, 2), pack(t, [call(t, 3), call(t, 4)])]);
    expect(await seqs(t)).toEqual([1, 2, 3, 4]);
    expect(await runs(t)).toEqual([
      [1, 3],
      [4, 4],
    ]);
  });

  it("a pack whose events were stored one by one is completed, not doubled, when it arrives whole", async () => {
    const t = newId();
    await deliver([call(t, 2), call(t, 4)]);
    await deliver([
      pack(
        t,
        [1, 2, 3, 4, 5].map((s) => call(t, s)),
      ),
    ]);
    expect(await seqs(t)).toEqual([1, 2, 3, 4, 5]);
    expect(await runs(t)).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 4],
      [5, 5],
    ]);
  });

  it("two writes that race store each seq once", async () => {
    const t = newId();
    const db = tenantDb(env.DB, t);
    const events = [1, 2, 3, 4].map((s) => call(t, s));
    // Both looked before either wrote.
    const [a, b] = await Promise.all([callRunStatements(db, events), callRunStatements(db, events.slice(1))]);
    await db.batch(a);
    await db.batch(b);
    expect(await seqs(t)).toEqual([1, 2, 3, 4]);
    expect(await runs(t)).toEqual([[1, 4]]);
  });

  it("a run holds at most CALL_RUN_MAX events; pages read every event once in seq order", async () => {
    const t = newId();
    const n = CALL_RUN_MAX * 2 + 120;
    const events = Array.from({ length: n }, (_, i) => (i % 97 === 50 ? other(t, i + 1) : call(t, i + 1)));
    for (let i = 0; i < n; i += 300) await deliver([pack(t, events.slice(i, i + 300))]);
    const spans = await runs(t);
    for (const [first, last] of spans) expect((last ?? 0) - (first ?? 0) + 1).toBeLessThanOrEqual(CALL_RUN_MAX);
    const db = tenantDb(env.DB, t);
    for (const limit of [7, 100]) {
      const seen: number[] = [];
      let after = 0;
      for (;;) {
        const page = await auditEventsAfter(db, { after, type: null, limit });
        seen.push(...page.map((r) => r.seq));
        const last = page.at(-1);
        if (!last || page.length < limit) break;
        after = last.seq;
      }
      expect(seen).toEqual(events.map((e) => e.seq));
    }
    const onlyCalls = await auditEventsAfter(db, { after: 0, type: "call.admitted", limit: 1_000_000 });
    expect(onlyCalls.map((r) => r.seq)).toEqual(events.filter((e) => e.type === "call.admitted").map((e) => e.seq));
    // The export: a time range, every type.
    const range = { from: T0 + 200_000, to: T0 + 900_000 };
    const exported = await auditExportPage(db, { after: 0, range, types: null, limit: 10_000 });
    expect(exported.map((r) => r.seq)).toEqual(
      events.filter((e) => e.at >= range.from && e.at < range.to).map((e) => e.seq),
    );
  });

  it("/activity's calls: newest first below a cursor, by key and time", async () => {
    const t = newId();
    const events = Array.from({ length: 60 }, (_, i) => call(t, i + 1, i % 3 === 0 ? "keybbbbbbbbb" : "keyaaaaaaaaa"));
    await deliver([pack(t, events)]);
    const db = tenantDb(env.DB, t);
    const page = (f: Partial<Parameters<typeof auditEventsBefore>[1]>) =>
      auditEventsBefore(db, {
        category: "calls",
        before: null,
        from: null,
        to: null,
        code: null,
        keyId: null,
        limit: 10,
        ...f,
      });
    expect((await page({})).map((r) => r.seq)).toEqual([60, 59, 58, 57, 56, 55, 54, 53, 52, 51]);
    expect((await page({ before: 12 })).map((r) => r.seq)).toEqual([11, 10, 9, 8, 7, 6, 5, 4, 3, 2]);
    expect((await page({ keyId: "keybbbbbbbbb" })).map((r) => r.seq)).toEqual([58, 55, 52, 49, 46, 43, 40, 37, 34, 31]);
    expect((await page({ from: T0 + 20_000, to: T0 + 24_000 })).map((r) => r.seq)).toEqual([23, 22, 21, 20]);
    expect(await page({ code: "budget_exceeded" })).toEqual([]);
  });

  it("reads runs migration 0013 made (a JSON array as TEXT) like the ones the consumer writes", async () => {
    const t = newId();
    await deliver([pack(t, [call(t, 3), call(t, 4)])]);
    await env.DB.prepare(
      "INSERT INTO audit_call_runs (tenant_id, first_seq, last_seq, first_at, last_at, body) VALUES (?, 1, 2, ?, ?, ?)",
    )
      .bind(t, T0 + 1_000, T0 + 2_000, JSON.stringify([call(t, 1), call(t, 2)]))
      .run();
    expect(await seqs(t)).toEqual([1, 2, 3, 4]);
  });
});
