// Ledger storage migrations that rebuild a table (workers/ledger/schema.ts): what a ledger of the
// version before held is all there after, in the new shape.
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newId, newRequestId } from "../../shared/ids.ts";
import { LedgerParts } from "../../workers/ledger/parts.ts";
import { migrate } from "../../workers/ledger/schema.ts";

const ledger = (tenantId: string) => env.TENANT_LEDGER.get(env.TENANT_LEDGER.idFromName(tenantId));

describe("ledger schema versions 7 and 8: holds and settled WITHOUT ROWID, without time indexes", () => {
  it("keeps a version 6 ledger's holds and settled ids; old settled ids are a range of the key", async () => {
    const result = await runInDurableObject(ledger(newId()), (_i, state) => {
      const sql = state.storage.sql;
      // The version 6 tables (rowid tables, as migration 2 made them), with rows in them.
      sql.exec(`DROP TABLE holds; DROP TABLE settled;
        CREATE TABLE holds (
          request_id TEXT PRIMARY KEY, key_id TEXT NOT NULL, amount TEXT NOT NULL, drawn TEXT NOT NULL, tokens INTEGER NOT NULL,
          budgets TEXT NOT NULL, limits TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
        CREATE INDEX holds_by_expiry ON holds (expires_at);
        CREATE TABLE settled (request_id TEXT PRIMARY KEY, at INTEGER NOT NULL);
        CREATE INDEX settled_by_time ON settled (at);
        UPDATE meta SET v = '6' WHERE k = 'schema_version';`);
      sql.exec(
        `INSERT INTO holds VALUES ('req_a', 'key1', '1000', '10', 5, '[["b1",1]]', '["r1"]', 1, 100),
                                  ('lease:l1:b1', 'key1', '2000', '0', 0, '[["b1",1]]', '[]', 2, 200)`,
      );
      sql.exec("INSERT INTO settled VALUES ('req_b', 50), ('req_c', 60)");
      migrate(sql);
      const shape = (name: string) =>
        sql.exec<{ sql: string }>("SELECT sql FROM sqlite_master WHERE name = ?", name).one().sql;
      const plan = (query: string) =>
        sql
          .exec<{ detail: string }>(`EXPLAIN QUERY PLAN ${query}`)
          .toArray()
          .map((r) => r.detail)
          .join(" / ");
      return {
        version: sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'schema_version'").one().v,
        holds: sql.exec("SELECT * FROM holds ORDER BY created_at").toArray(),
        settled: sql.exec("SELECT * FROM settled ORDER BY at").toArray(),
        withoutRowid: [shape("holds"), shape("settled")].map((s) => /WITHOUT ROWID\s*$/.test(s)),
        indexes: sql
          .exec<{ name: string }>(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('holds', 'settled') AND sql IS NOT NULL",
          )
          .toArray(),
        plan: plan("DELETE FROM settled WHERE request_id < 'req_b' AND at < 55"),
      };
    });
    expect(result.version).toBe("8");
    expect(result.holds).toEqual([
      {
        request_id: "req_a",
        key_id: "key1",
        amount: "1000",
        drawn: "10",
        tokens: 5,
        budgets: '[["b1",1]]',
        limits: '["r1"]',
        created_at: 1,
        expires_at: 100,
      },
      {
        request_id: "lease:l1:b1",
        key_id: "key1",
        amount: "2000",
        drawn: "0",
        tokens: 0,
        budgets: '[["b1",1]]',
        limits: "[]",
        created_at: 2,
        expires_at: 200,
      },
    ]);
    expect(result.settled).toEqual([
      { request_id: "req_b", at: 50 },
      { request_id: "req_c", at: 60 },
    ]);
    expect(result.withoutRowid).toEqual([true, true]);
    expect(result.indexes).toEqual([]);
    expect(result.plan).toMatch(/SEARCH settled USING PRIMARY KEY \(request_id<\?\)/);
  });
});

describe("settled ids", () => {
  it("are forgotten two hours after they settled, by a range of the key; an id made otherwise only when old too", async () => {
    const now = Date.UTC(2026, 11, 3, 12);
    const hour = 3_600_000;
    const result = await runInDurableObject(ledger(newId()), (_i, state) => {
      const parts = new LedgerParts(state.storage, env);
      const rows: [string, number][] = [
        [newRequestId(now - 3 * hour), now - 3 * hour + 1_000], // old: forgotten
        [newRequestId(now - 3 * hour), now - hour], // a call that ran two hours, settled an hour ago: kept
        [newRequestId(now - hour), now - hour], // kept
        ["req_0123", now - 3 * hour], // not a made id, sorts below: forgotten when old
        ["req_0124", now - hour], // the same, recent: kept
        ["req_zzzz", now - 3 * hour], // sorts above every made id: kept, and the wake is a sweep apart
      ];
      for (const [id, at] of rows) state.storage.sql.exec("INSERT INTO settled (request_id, at) VALUES (?, ?)", id, at);
      parts.holds.expire(now);
      const kept = state.storage.sql
        .exec<{ request_id: string }>("SELECT request_id FROM settled")
        .toArray()
        .map((r) => r.request_id);
      return { kept, wake: parts.holds.nextWake(now), rows };
    });
    expect(new Set(result.kept)).toEqual(new Set([result.rows[1]?.[0], result.rows[2]?.[0], "req_0124", "req_zzzz"]));
    // The first id by key is "req_0124", settled an hour ago: swept in an hour.
    expect(result.wake).toBe(now + hour);
  });
});
