// The ledger's outboxes with one bad message in them (docs/budgets.md, "Delivery"): an audit
// event too large for a queue message, a batch too large for one sendBatch, a message the queue
// keeps refusing while it takes the others, a D1 statement D1 keeps refusing. Each is set aside
// with an alert and a notice in the tenant's trail; everything else still arrives.
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { auditEventsOf, SYSTEM, type AuditDraft } from "../../shared/audit.ts";
import { keyHash } from "../../shared/crypto.ts";
import { newId } from "../../shared/ids.ts";
import type { UsageEvent } from "../../shared/usage.ts";
import { Outbox } from "../../workers/ledger/outbox.ts";
import type { TenantLedger } from "../../workers/ledger/index.ts";
import { migrate } from "../../workers/ledger/schema.ts";
import type { AdmitRequest } from "../../workers/ledger/types.ts";
import type { AuditRow } from "../../workers/store/index.ts";
import { auditRowsOf, newTenant, waitForEvent, type Tenant } from "../helpers.ts";
import { usageEvent, waitFor } from "./support.ts";

const ledger = (tenantId: string) => env.TENANT_LEDGER.get(env.TENANT_LEDGER.idFromName(tenantId));

const auditRows = auditRowsOf;
/** The audit outbox's rows still to send (sent rows stay, to be written over: outbox.ts). */
const WAITING_AUDIT = `SELECT seq, n, attempts FROM audit_outbox
  WHERE seq > COALESCE((SELECT CAST(v AS INTEGER) FROM meta WHERE k = 'audit_sent'), 0) ORDER BY seq`;

/** Waits until the tenant's audit trail in D1 has an event matching `found`. */
function waitForAudit(tenantId: string, what: string, found: (row: AuditRow) => boolean, timeoutMs = 15_000) {
  return waitFor(
    async () => {
      const rows = await auditRows(tenantId);
      return rows.some(found) ? rows : null;
    },
    what,
    timeoutMs,
  );
}

function draft(data: AuditDraft["data"], type: AuditDraft["type"] = "call.refused"): AuditDraft {
  return { at: Date.now(), type, actor: SYSTEM, requestId: null, subject: null, data };
}

/** A chat completion call of the tenant's own key, as the gateway asks the ledger to admit it. */
async function admitRequest(tenant: Tenant, model: string, now = Date.now()): Promise<AdmitRequest> {
  return {
    keyId: tenant.keyId,
    keyHash: await keyHash(env.KEY_PEPPER, tenant.proxyKey),
    provider: "openai",
    builtInProvider: true,
    requestId: `req_${newId()}`,
    now,
    call: {
      model,
      endpoint: "chat.completions",
      stream: false,
      metered: true,
      inputTokens: 10,
      maxOutputTokens: 10,
      dimensions: {},
      source: null,
    },
  };
}

/** Whether a message carries a poison event (alone, or in a pack of the outbox's). */
const carriesPoison = (body: unknown) =>
  (auditEventsOf(body) ?? []).some((e) => (e.data as { poison?: boolean }).poison === true);

/** The queue at its boundary, refusing the messages `refuse` picks (the platform stand-in). */
function refusing(queue: Queue, refuse: (body: unknown) => boolean): Queue {
  return {
    send: (body: unknown, options?: QueueSendOptions) =>
      refuse(body) ? Promise.reject(new Error("refused")) : queue.send(body, options),
    sendBatch: (messages: Iterable<MessageSendRequest>, options?: QueueSendBatchOptions) =>
      [...messages].some((m) => refuse(m.body))
        ? Promise.reject(new Error("refused"))
        : queue.sendBatch(messages, options),
  } as Queue;
}

const deadRows = (tenantId: string) =>
  runInDurableObject(ledger(tenantId), (_i, state) =>
    state.storage.sql
      .exec<{ outbox: string; seq: number; reason: string; bytes: number; body: string }>(
        "SELECT outbox, seq, reason, bytes, body FROM outbox_dead ORDER BY id",
      )
      .toArray(),
  );

describe("audit outbox", () => {
  // Over the 128 KB message limit in several ways: just over it, 1 MB, multi-byte characters whose
  // character count is under the limit but whose UTF-8 bytes are over it, and many small fields.
  const oversized: [string, AuditDraft["data"]][] = [
    ["just over 128 KB", { model: "m".repeat(128_000) }],
    ["a 1 MB model name", { model: "m".repeat(1_000_000) }],
    ["multi-byte characters", { model: "é".repeat(70_000) }],
    ["many fields", Object.fromEntries(Array.from({ length: 2_000 }, (_, i) => [`f${i}`, "v".repeat(100)]))],
  ];

  it.each(oversized)("an event too large for a message (%s) is set aside; later events arrive", async (_, data) => {
    const tenant = await newTenant({ providers: false });
    await ledger(tenant.tenantId).recordAudit({
      tenantId: tenant.tenantId,
      drafts: [draft(data), draft({ after: "the big one" })],
    });
    const keyRes = await tenant.api("/keys", { method: "POST", json: { name: "later key" } });
    expect(keyRes.status).toBe(201);
    await waitForAudit(
      tenant.tenantId,
      "key.created after the oversized event",
      (r) => r.type === "key.created" && JSON.parse(r.data).name === "later key",
    );
    const rows = await waitForAudit(tenant.tenantId, "the notice", (r) => r.type === "audit.event_dropped");
    expect(rows.some((r) => r.type === "call.refused" && JSON.parse(r.data).after === "the big one")).toBe(true);
    const dead = await deadRows(tenant.tenantId);
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ outbox: "audit", reason: "too_large" });
    expect(dead[0]?.bytes).toBeGreaterThan(126_000);
    expect(dead[0]?.body.length).toBeLessThanOrEqual(16_384);
    // The notice takes the set-aside event's own seq: the trail keeps its order and shows the gap.
    const notice = rows.find((r) => r.type === "audit.event_dropped");
    expect(notice?.seq).toBe(dead[0]?.seq);
    expect(JSON.parse(notice?.data ?? "{}")).toMatchObject({ droppedType: "call.refused", reason: "too_large" });
    expect(notice?.data.length).toBeLessThan(200);
    expect(rows.map((r) => r.seq)).toEqual(rows.map((_r, i) => i + 1));
  });

  it.each(["refused", "admitted"])(
    "a call %s with a 1 MB model name (through admit) does not stop the tenant's later events",
    async (outcome) => {
      const tenant = await newTenant({ providers: false });
      const policy =
        outcome === "refused"
          ? await tenant.api("/policies", {
              method: "POST",
              json: { name: "only mini", allow_models: ["gpt-4o-mini"] },
            })
          : null;
      expect(policy?.status ?? 201).toBe(201);
      const request = await admitRequest(tenant, "m".repeat(1_000_000));
      const result = await ledger(tenant.tenantId).admit(request);
      expect(result.ok).toBe(outcome === "admitted");
      const keyRes = await tenant.api("/keys", { method: "POST", json: { name: "later key" } });
      expect(keyRes.status).toBe(201);
      const rows = await waitForAudit(
        tenant.tenantId,
        "key.created after the 1 MB model",
        (r) => r.type === "key.created" && JSON.parse(r.data).name === "later key",
      );
      await waitForAudit(tenant.tenantId, "the notice", (r) => r.type === "audit.event_dropped");
      const notice = (await auditRows(tenant.tenantId)).find((r) => r.type === "audit.event_dropped");
      expect(JSON.parse(notice?.data ?? "{}")).toMatchObject({ droppedType: `call.${outcome}`, reason: "too_large" });
      expect(rows.some((r) => r.data.length > 10_000)).toBe(false);
    },
  );

  it("events leave packed, several to a message, and are all stored in seq order", async () => {
    const tenantId = newId();
    const messages: unknown[] = [];
    const counting = {
      send: (body: unknown, options?: QueueSendOptions) => {
        messages.push(body);
        return env.AUDIT_QUEUE.send(body, options);
      },
      sendBatch: (batch: Iterable<MessageSendRequest>, options?: QueueSendBatchOptions) => {
        messages.push(...[...batch].map((m) => m.body));
        return env.AUDIT_QUEUE.sendBatch(batch, options);
      },
    } as Queue;
    const sent = await runInDurableObject(ledger(tenantId), async (_i, state) => {
      const outbox = new Outbox(state.storage.sql, { ...env, AUDIT_QUEUE: counting });
      for (let n = 1; n <= 250; n++) outbox.audit(draft({ n }));
      return outbox.flush(tenantId);
    });
    expect(sent).toBe(true);
    // Read 100 rows at a time, each read one message.
    expect(messages.map((m) => auditEventsOf(m)?.length)).toEqual([100, 100, 50]);
    const rows = await waitFor(async () => {
      const all = await auditRows(tenantId);
      return all.length === 250 ? all : null;
    }, "250 events");
    expect(rows.map((r) => [r.seq, JSON.parse(r.data).n])).toEqual(
      Array.from({ length: 250 }, (_, i) => [i + 1, i + 1]),
    );
  });

  it("events that fit one by one but not in one message are split under the message limit", async () => {
    const tenant = await newTenant({ providers: false });
    // Five events of 60 KB: 300 KB together, over a message's 128 KB and sendBatch's 256 KB.
    const big = Array.from({ length: 5 }, (_, i) => draft({ part: i, model: "m".repeat(60_000) }));
    await ledger(tenant.tenantId).recordAudit({ tenantId: tenant.tenantId, drafts: big });
    const rows = await waitFor(async () => {
      const all = await auditRows(tenant.tenantId);
      return all.filter((r) => r.data.length > 60_000).length === 5 ? all : null;
    }, "five 60 KB events");
    expect(rows.some((r) => r.type === "audit.event_dropped")).toBe(false);
    expect(await deadRows(tenant.tenantId)).toEqual([]);
  });

  it("a message the queue keeps refusing while it takes others is set aside after three refusals", async () => {
    const tenantId = newId();
    const queued = await runInDurableObject(ledger(tenantId), async (_i, state) => {
      const outbox = new Outbox(state.storage.sql, { ...env, AUDIT_QUEUE: refusing(env.AUDIT_QUEUE, carriesPoison) });
      const results: boolean[] = [];
      outbox.audit(draft({ n: 1 }));
      outbox.audit(draft({ n: 2, poison: true }));
      outbox.audit(draft({ n: 3 }));
      for (let round = 0; round < 3; round++) {
        results.push(await outbox.flush(tenantId));
        outbox.audit(draft({ n: 4 + round }));
      }
      // A queue that refuses everything is an outage: retried, never counted.
      const down = new Outbox(state.storage.sql, { ...env, AUDIT_QUEUE: refusing(env.AUDIT_QUEUE, () => true) });
      outbox.audit(draft({ n: 7, poison: true }));
      for (let round = 0; round < 5; round++) results.push(await down.flush(tenantId));
      const attempts = state.storage.sql.exec<{ seq: number; attempts: number }>(WAITING_AUDIT).toArray();
      return { results, attempts };
    });
    // Rounds 1 and 2 leave the poison waiting; round 3 sets it aside (its notice then waits to go).
    expect(queued.results.slice(0, 3)).toEqual([false, false, true]);
    expect(queued.results.slice(3)).toEqual([false, false, false, false, false]);
    expect(queued.attempts.map((a) => a.attempts)).toEqual([0, 0, 0]);
    const rows = await waitForAudit(tenantId, "the others", (r) => JSON.parse(r.data).n === 5);
    expect(rows.map((r) => [r.seq, JSON.parse(r.data).n])).toEqual([
      [1, 1],
      [3, 3],
      [4, 4],
      [5, 5],
    ]);
    // The notice at seq 2 goes with the next flush through a queue that takes it.
    await runInDurableObject(ledger(tenantId), (_i, state) => new Outbox(state.storage.sql, env).flush(tenantId));
    const after = await waitForAudit(tenantId, "the notice", (r) => r.seq === 2);
    expect(after.find((r) => r.seq === 2)).toMatchObject({ type: "audit.event_dropped" });
    expect(JSON.parse(after.find((r) => r.seq === 2)?.data ?? "{}")).toMatchObject({ reason: "refused" });
    expect(after.find((r) => r.seq === 8)).toBeUndefined();
    expect((await deadRows(tenantId)).map((d) => [d.seq, d.reason])).toEqual([[2, "refused"]]);
  });
});

describe("audit runs (several events in one outbox row)", () => {
  type OutboxRow = { seq: number; n: number; attempts: number };
  const outboxRows = (sql: SqlStorage) => sql.exec<OutboxRow>(WAITING_AUDIT).toArray();

  it("a call at a quiet time is written at once; calls decided while the ledger is busy share one row; all delivered in order", async () => {
    const tenant = await newTenant({ providers: false });
    const now = Date.now();
    // Every fifth is refused by the policy below.
    const requests = await Promise.all(
      Array.from({ length: 20 }, (_, i) => admitRequest(tenant, i % 5 === 4 ? "gpt-4o" : "gpt-4o-mini", now)),
    );
    const requestIds = requests.map((r) => r.requestId);
    const policy = await tenant.api("/policies", {
      method: "POST",
      json: { name: "only mini", allow_models: ["gpt-4o-mini"] },
    });
    expect(policy.status).toBe(201);
    const { results, writtenAtOnce, rows } = await runInDurableObject(
      ledger(tenant.tenantId),
      async (instance: TenantLedger, state) => {
        const sql = state.storage.sql;
        await new Outbox(sql, env).flush(tenant.tenantId);
        const before = outboxRows(sql).length;
        // Twenty calls made at the same time: the first finds the ledger quiet, the others find
        // it busy. Every fifth is refused by the policy: refusals join the same run.
        const written: number[] = [];
        const decided = requests.map((request) => {
          const result = instance.admit(request);
          written.push(outboxRows(sql).length - before);
          return result;
        });
        const admitted = await Promise.all(decided);
        return { results: admitted.map((r) => r.ok), writtenAtOnce: written, rows: outboxRows(sql).slice(before) };
      },
    );
    expect(results).toEqual(requestIds.map((_, i) => i % 5 !== 4));
    expect(writtenAtOnce).toEqual(requestIds.map(() => 1));
    expect(rows.map((r) => [r.n, r.attempts])).toEqual([
      [1, 0],
      [19, 0],
    ]);
    await runInDurableObject(ledger(tenant.tenantId), (_i, state) =>
      new Outbox(state.storage.sql, env).flush(tenant.tenantId),
    );
    const trail = await waitFor(async () => {
      const all = (await auditRowsOf(tenant.tenantId)).filter((r) => r.type.startsWith("call."));
      return all.length === 20 ? all : null;
    }, "the 20 events");
    const first = rows[0]?.seq ?? 0;
    expect(trail.map((r) => [r.seq, r.request_id, r.type])).toEqual(
      requestIds.map((id, i) => [first + i, id, i % 5 === 4 ? "call.refused" : "call.admitted"]),
    );
    // The seqs go on after the run.
    const next = await runInDurableObject(ledger(tenant.tenantId), (_i, state) => {
      const outbox = new Outbox(state.storage.sql, env);
      outbox.audit(draft({ after: "the run" }));
      return outboxRows(state.storage.sql).at(-1)?.seq;
    });
    expect(next).toBeGreaterThan(first + 19);
  });

  it("a run the queue keeps refusing is split; only the event at fault is set aside, the others keep their seqs", async () => {
    const tenantId = newId();
    const result = await runInDurableObject(ledger(tenantId), async (_i, state) => {
      const sql = state.storage.sql;
      const outbox = new Outbox(sql, { ...env, AUDIT_QUEUE: refusing(env.AUDIT_QUEUE, carriesPoison) });
      outbox.audit(draft({ n: 1 }));
      outbox.auditRun([draft({ n: 2 }), draft({ n: 3, poison: true }), draft({ n: 4 })]);
      const written = outboxRows(sql);
      const rounds: boolean[] = [];
      const shapes: OutboxRow[][] = [];
      for (let round = 0; round < 6; round++) {
        // Refusals are counted only while the queue takes other messages.
        outbox.audit(draft({ n: 10 + round }));
        rounds.push(await outbox.flush(tenantId));
        shapes.push(outboxRows(sql));
      }
      await new Outbox(sql, env).flush(tenantId);
      return { written, rounds, shapes };
    });
    expect(result.written.map((r) => [r.seq, r.n])).toEqual([
      [1, 1],
      [2, 3],
    ]);
    // Three refusals of the run, then it is split into one row per event, nothing set aside yet.
    expect(result.shapes[2]?.map((r) => [r.seq, r.n])).toEqual([
      [2, 1],
      [3, 1],
      [4, 1],
    ]);
    // The split rows go on: the poison is refused three more times by itself, then set aside.
    expect(result.shapes[5]?.map((r) => r.seq)).toEqual([3]);
    expect(result.rounds).toEqual([false, false, true, false, false, true]);
    const rows = await waitForAudit(tenantId, "the notice at seq 3", (r) => r.type === "audit.event_dropped");
    const described = rows.map((r) => [r.seq, r.type === "audit.event_dropped" ? "notice" : JSON.parse(r.data).n]);
    expect(described.slice(0, 4)).toEqual([
      [1, 1],
      [2, 2],
      [3, "notice"],
      [4, 4],
    ]);
    expect(described.slice(4)).toEqual(Array.from({ length: 6 }, (_, round) => [5 + round, 10 + round]));
    expect((await deadRows(tenantId)).map((d) => [d.seq, d.reason])).toEqual([[3, "refused"]]);
  });

  it("a run too large for a message, or with one malformed event, goes on event by event; an unreadable run leaves a notice at each seq", async () => {
    const tenantId = newId();
    await runInDurableObject(ledger(tenantId), async (_i, state) => {
      const sql = state.storage.sql;
      const insert = (seq: number, n: number, event: string) =>
        sql.exec("INSERT INTO audit_outbox (seq, n, event) VALUES (?, ?, ?)", seq, n, event);
      // Two 70 KB events (written by hand: auditRun would give each a row of its own).
      const big = [draft({ part: 1, model: "m".repeat(70_000) }), draft({ part: 2, model: "m".repeat(70_000) })];
      insert(1, 2, JSON.stringify(big));
      insert(3, 2, JSON.stringify([draft({ part: 3 }), { type: 42 }]));
      insert(5, 3, "[not json");
      insert(8, 1, JSON.stringify(draft({ part: 8 })));
      const outbox = new Outbox(sql, env);
      for (let round = 0; round < 3; round++) await outbox.flush(tenantId);
    });
    const rows = await waitFor(async () => {
      const all = await auditRows(tenantId);
      return all.length === 8 ? all : null;
    }, "eight seqs");
    expect(rows.map((r) => [r.seq, r.type === "audit.event_dropped" ? "notice" : JSON.parse(r.data).part])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
      [4, "notice"],
      [5, "notice"],
      [6, "notice"],
      [7, "notice"],
      [8, 8],
    ]);
    // The unreadable run in the first flush, the malformed event once its run was split.
    expect((await deadRows(tenantId)).map((d) => [d.seq, d.reason])).toEqual([
      [5, "unreadable"],
      [4, "unreadable"],
    ]);
  });

  it("auditRun keeps a large draft in a row of its own and cuts runs under the size bound", async () => {
    const tenantId = newId();
    const rows = await runInDurableObject(ledger(tenantId), (_i, state) => {
      const outbox = new Outbox(state.storage.sql, env);
      outbox.auditRun([
        ...Array.from({ length: 3 }, (_, i) => draft({ i })),
        draft({ big: "b".repeat(20_000) }),
        ...Array.from({ length: 300 }, (_, i) => draft({ i, pad: "p".repeat(300) })),
      ]);
      return outboxRows(state.storage.sql);
    });
    expect(rows.slice(0, 2).map((r) => [r.seq, r.n])).toEqual([
      [1, 3],
      [4, 1],
    ]);
    // 300 drafts of ~400 characters: more than one run of at most 40,000 characters.
    expect(rows.length).toBeGreaterThan(3);
    expect(rows.slice(2).reduce((sum, r) => sum + r.n, 0)).toBe(300);
    expect(rows.map((r) => r.seq)).toEqual(
      rows.map((_r, i) => 1 + rows.slice(0, i).reduce((sum, before) => sum + before.n, 0)),
    );
  });
});

describe("audit seqs", () => {
  const seqsOf = (sql: SqlStorage) =>
    sql
      .exec<{ seq: number }>(WAITING_AUDIT)
      .toArray()
      .map((r) => r.seq);

  it("are never given twice: not after the sent rows are gone, nor past one refused and left waiting", async () => {
    const tenantId = newId();
    const seqs = await runInDurableObject(ledger(tenantId), async (_i, state) => {
      const sql = state.storage.sql;
      const outbox = new Outbox(sql, { ...env, AUDIT_QUEUE: refusing(env.AUDIT_QUEUE, carriesPoison) });
      outbox.audit(draft({ n: 1, poison: true }));
      outbox.audit(draft({ n: 2 }));
      outbox.audit(draft({ n: 3 }));
      await outbox.flush(tenantId);
      const waiting = seqsOf(sql);
      outbox.audit(draft({ n: 4 }));
      const next = seqsOf(sql);
      await new Outbox(sql, env).flush(tenantId);
      const emptied = seqsOf(sql);
      // A transaction that fails takes its seq back with it: no gap.
      expect(() =>
        state.storage.transactionSync(() => {
          outbox.audit(draft({ n: 5 }));
          throw new Error("rolled back");
        }),
      ).toThrow("rolled back");
      outbox.audit(draft({ n: 6 }));
      return { waiting, next, emptied, last: seqsOf(sql) };
    });
    expect(seqs).toEqual({ waiting: [1], next: [1, 4], emptied: [], last: [5] });
  });

  it("a sent row is written over by the next event: one row written, not a new row and a delete; a sent backlog is trimmed", async () => {
    const tenantId = newId();
    const result = await runInDurableObject(ledger(tenantId), async (_i, state) => {
      const sql = state.storage.sql;
      let written = 0;
      // The storage's own count of rows written (what the platform bills), over every statement.
      const counted = new Proxy(sql, {
        get(target, prop) {
          if (prop !== "exec") return Reflect.get(target, prop, target) as unknown;
          return (query: string, ...params: unknown[]) => {
            const cursor = target.exec(query, ...params);
            written += cursor.rowsWritten;
            return cursor;
          };
        },
      });
      const outbox = new Outbox(counted, env);
      const count = () => sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM audit_outbox").one().n;
      for (let n = 1; n <= 3; n++) outbox.audit(draft({ n }));
      await outbox.flush(tenantId);
      written = 0;
      outbox.audit(draft({ n: 4 }));
      const one = { written, rows: count(), waiting: seqsOf(sql) };
      // Its flush writes the sent mark alone, for any number of rows sent.
      written = 0;
      await outbox.flush(tenantId);
      const flushed = { written, waiting: seqsOf(sql) };
      // A backlog of 1,100 rows, sent in one flush: the sent rows kept are bounded.
      for (let n = 5; n <= 1_104; n++) outbox.audit(draft({ n }));
      await outbox.flush(tenantId);
      const trimmed = { rows: count(), waiting: seqsOf(sql) };
      outbox.audit(draft({ n: 1_105 }));
      return { one, flushed, trimmed, after: { rows: count(), waiting: seqsOf(sql) } };
    });
    expect(result).toEqual({
      one: { written: 1, rows: 3, waiting: [4] },
      flushed: { written: 1, waiting: [] },
      trimmed: { rows: 1_000, waiting: [] },
      after: { rows: 1_000, waiting: [1_105] },
    });
    // Every event reached the trail once, in order.
    const rows = await waitForAudit(tenantId, "1,104 events", (r) => r.seq === 1_104);
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 1_104 }, (_, i) => i + 1));
  });

  it("go on from the old AUTOINCREMENT counter when a version 4 ledger is migrated", async () => {
    const tenantId = newId();
    const seqs = await runInDurableObject(ledger(tenantId), async (_i, state) => {
      const sql = state.storage.sql;
      // The version 4 table, seven events given, six sent (their rows gone), one waiting.
      sql.exec(`DROP TABLE audit_outbox;
        CREATE TABLE audit_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0);
        DELETE FROM meta WHERE k = 'audit_seq';
        UPDATE meta SET v = '4' WHERE k = 'schema_version';`);
      for (let n = 1; n <= 7; n++)
        sql.exec("INSERT INTO audit_outbox (event) VALUES (?)", JSON.stringify(draft({ n })));
      sql.exec("DELETE FROM audit_outbox WHERE seq <> 5");
      migrate(sql);
      new Outbox(sql, env).audit(draft({ n: 8 }));
      const autoincrement = sql
        .exec<{ n: number }>(
          "SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'audit_outbox' AND sql LIKE '%AUTOINCREMENT%'",
        )
        .one().n;
      return { seqs: seqsOf(sql), autoincrement };
    });
    expect(seqs).toEqual({ seqs: [5, 8], autoincrement: 0 });
  });
});

describe("after a failed send", () => {
  it("resends what the queue refused once it takes messages again: nothing lost, order kept, no attempt counted", async () => {
    const tenantId = newId();
    const handedOver = usageEvent({ tenantId, keyId: "keykeykeykey" } as Tenant, {
      startedAt: Date.now(),
      costNanoUsd: 1_000,
    });
    const result = await runInDurableObject(ledger(tenantId), async (_i, state) => {
      const all = () => true;
      const down = new Outbox(state.storage.sql, {
        ...env,
        AUDIT_QUEUE: refusing(env.AUDIT_QUEUE, all),
        USAGE_QUEUE: refusing(env.USAGE_QUEUE, all),
      });
      down.audit(draft({ n: 1 }));
      down.audit(draft({ n: 2 }));
      down.usage([handedOver]);
      const failed = [await down.flush(tenantId), await down.flush(tenantId)];
      const waiting = (table: string) =>
        state.storage.sql
          .exec<{ seq: number; attempts: number }>(
            table === "audit_outbox" ? WAITING_AUDIT : `SELECT seq, attempts FROM ${table} ORDER BY seq`,
          )
          .toArray()
          .map((r) => ({ seq: r.seq, attempts: r.attempts }));
      const kept = { audit: waiting("audit_outbox"), usage: waiting("usage_outbox") };
      const up = new Outbox(state.storage.sql, env);
      up.audit(draft({ n: 3 }));
      const sent = await up.flush(tenantId);
      return { failed, kept, sent, left: { audit: waiting("audit_outbox"), usage: waiting("usage_outbox") } };
    });
    // The failed sends keep everything, uncounted (an outage is not the message's fault).
    expect(result.failed).toEqual([false, false]);
    expect(result.kept).toEqual({
      audit: [
        { seq: 1, attempts: 0 },
        { seq: 2, attempts: 0 },
      ],
      usage: [{ seq: 1, attempts: 0 }],
    });
    expect(result.sent).toBe(true);
    expect(result.left).toEqual({ audit: [], usage: [] });
    const rows = await waitForAudit(tenantId, "the resent events", (r) => JSON.parse(r.data).n === 3);
    expect(rows.map((r) => [r.seq, JSON.parse(r.data).n])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    expect(await waitForEvent(tenantId, handedOver.requestId)).toMatchObject({ cost_nano_usd: 1_000 });
    expect(await deadRows(tenantId)).toEqual([]);
  });
});

describe("usage outbox (events the gateway could not queue)", () => {
  it("carries handed-over events to D1, and sets aside one the queue keeps refusing", async () => {
    const tenantId = newId();
    const now = Date.now();
    const events = Array.from({ length: 4 }, () =>
      usageEvent({ tenantId, keyId: "keykeykeykey" } as Tenant, { startedAt: now, costNanoUsd: 1_000 }),
    );
    const [a, poison, b, c] = events as [UsageEvent, UsageEvent, UsageEvent, UsageEvent];
    const refuse = (body: unknown) => (body as { requestId?: string }).requestId === poison.requestId;
    const results = await runInDurableObject(ledger(tenantId), async (_i, state) => {
      const outbox = new Outbox(state.storage.sql, { ...env, USAGE_QUEUE: refusing(env.USAGE_QUEUE, refuse) });
      outbox.usage([a, poison]);
      const out = [await outbox.flush(tenantId)];
      outbox.usage([b]);
      out.push(await outbox.flush(tenantId));
      outbox.usage([c]);
      out.push(await outbox.flush(tenantId));
      return out;
    });
    expect(results).toEqual([false, false, true]);
    for (const e of [a, b, c]) await waitForEvent(tenantId, e.requestId);
    const dead = await deadRows(tenantId);
    expect(dead.map((d) => [d.outbox, d.reason])).toEqual([["usage", "refused"]]);
    expect(JSON.parse(dead[0]?.body ?? "{}")).toMatchObject({ requestId: poison.requestId });
    // The tenant's trail says which call's event was set aside (the alarm sends the notice).
    await runInDurableObject(ledger(tenantId), (_i, state) => new Outbox(state.storage.sql, env).flush(tenantId));
    const rows = await waitForAudit(tenantId, "usage.event_dropped", (r) => r.type === "usage.event_dropped");
    expect(rows).toHaveLength(1);
    expect(rows[0]?.request_id).toBe(poison.requestId);
  });
});

describe("mirror outbox (D1 statements)", () => {
  const insertKey = "INSERT INTO api_keys (tenant_id, id, name, prefix, created_at) VALUES (?1, ?2, ?3, 'p', 0)";
  const renameKey = "UPDATE api_keys SET name = ?2 WHERE tenant_id = ?1 AND id = ?3";
  const refused = "INSERT INTO no_such_table (tenant_id, v) VALUES (?1, ?2)";
  const keyName = async (tenantId: string) =>
    (
      await env.DB.prepare("SELECT name FROM api_keys WHERE tenant_id = ? AND id = 'k1'")
        .bind(tenantId)
        .first<{ name: string }>()
    )?.name;

  it("a statement D1 keeps refusing is set aside after three tries; the ones after it are applied", async () => {
    const tenantId = newId();
    const results = await runInDurableObject(ledger(tenantId), async (_i, state) => {
      const outbox = new Outbox(state.storage.sql, env);
      outbox.mirror(insertKey, ["k1", "before"]);
      outbox.mirror(refused, ["x"]);
      outbox.mirror(renameKey, ["after", "k1"]);
      const out: boolean[] = [];
      for (let round = 0; round < 3; round++) {
        out.push(await outbox.flush(tenantId));
        // While the refused statement waits, the one after it is not applied (order is kept).
        if (round < 2) out.push((await keyName(tenantId)) === "before");
      }
      return out;
    });
    expect(results).toEqual([false, true, false, true, true]);
    expect(await keyName(tenantId)).toBe("after");
    const dead = await deadRows(tenantId);
    expect(dead.map((d) => [d.outbox, d.seq, d.reason])).toEqual([["mirror", 2, "refused"]]);
    const rows = await waitForAudit(tenantId, "mirror.statement_dropped", (r) => r.type === "mirror.statement_dropped");
    expect(JSON.parse(rows[0]?.data ?? "{}")).toMatchObject({ seq: 2, reason: "refused" });
  });
});
