// Ledger storage migrations that rebuild a table (workers/ledger/schema.ts): what a ledger of the
// version before held is all there after, in the new shape.
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newId } from "../../shared/ids.ts";
import { migrate } from "../../workers/ledger/schema.ts";

const ledger = (tenantId: string) => env.TENANT_LEDGER.get(env.TENANT_LEDGER.idFromName(tenantId));

describe("ledger schema version 7: holds and settled WITHOUT ROWID", () => {
  it("keeps a version 6 ledger's holds and settled ids, with their time indexes", async () => {
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
        plans: [plan("SELECT * FROM holds WHERE expires_at <= 150"), plan("DELETE FROM settled WHERE at < 55")],
      };
    });
    expect(result.version).toBe("7");
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
    expect(result.plans[0]).toMatch(/USING (COVERING )?INDEX holds_by_expiry/);
    expect(result.plans[1]).toMatch(/USING (COVERING )?INDEX settled_by_time/);
  });
});
