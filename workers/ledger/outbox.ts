// What the ledger sends out, written in the same transaction as the change it reports and sent
// after it: D1 mirror statements (so listings see every change the ledger made, in order) and
// audit events (batched to AUDIT_QUEUE). A failed send stays in storage and the alarm retries.
import type { AuditDraft, AuditEvent } from "../../shared/audit.ts";
import { tenantDb } from "../../shared/tenant-db.ts";

const BATCH = 50;
/** sendBatch takes at most 100 messages. */
const AUDIT_BATCH = 100;

export class Outbox {
  readonly #sql: SqlStorage;
  readonly #env: Env;
  /** One flush at a time, so mirrored changes reach D1 in the order the ledger made them. */
  #flushing: Promise<void> = Promise.resolve();

  constructor(sql: SqlStorage, env: Env) {
    this.#sql = sql;
    this.#env = env;
  }

  /** A D1 statement; params exclude the tenant: it is always ?1, bound by the tenant-scoped accessor. */
  mirror(sql: string, params: unknown[]): void {
    this.#sql.exec("INSERT INTO outbox (sql, params) VALUES (?, ?)", sql, JSON.stringify(params));
  }

  audit(draft: AuditDraft): void {
    this.#sql.exec("INSERT INTO audit_outbox (event) VALUES (?)", JSON.stringify(draft));
  }

  hasAudit(): boolean {
    return this.#sql.exec("SELECT 1 FROM audit_outbox LIMIT 1").toArray().length > 0;
  }

  /** Sends what is pending; false when something could not be sent and must be retried. */
  flush(tenantId: string | null): Promise<boolean> {
    const run = this.#flushing.then(async () => {
      if (!tenantId) return true;
      const mirrored = await this.#flushMirror(tenantId);
      const audited = await this.#flushAudit(tenantId);
      return mirrored && audited;
    });
    this.#flushing = run.then(() => undefined);
    return run;
  }

  async #flushMirror(tenantId: string): Promise<boolean> {
    for (;;) {
      const pending = this.#sql
        .exec<{ seq: number; sql: string; params: string }>(
          `SELECT seq, sql, params FROM outbox ORDER BY seq LIMIT ${BATCH}`,
        )
        .toArray();
      const last = pending.at(-1);
      if (!last) return true;
      const db = tenantDb(this.#env.DB, tenantId);
      try {
        await db.batch(pending.map((p) => db.prepare(p.sql, ...(JSON.parse(p.params) as unknown[]))));
      } catch (error) {
        console.error("ledger mirror to D1 failed; will retry", error instanceof Error ? error.message : "unknown");
        return false;
      }
      this.#sql.exec("DELETE FROM outbox WHERE seq <= ?", last.seq);
      if (pending.length < BATCH) return true;
    }
  }

  async #flushAudit(tenantId: string): Promise<boolean> {
    for (;;) {
      const pending = this.#sql
        .exec<{ seq: number; event: string }>(`SELECT seq, event FROM audit_outbox ORDER BY seq LIMIT ${AUDIT_BATCH}`)
        .toArray();
      const last = pending.at(-1);
      if (!last) return true;
      const messages = pending.map((row) => {
        const body: AuditEvent = { v: 1, tenantId, seq: row.seq, ...(JSON.parse(row.event) as AuditDraft) };
        return { body, contentType: "json" as const };
      });
      try {
        await this.#env.AUDIT_QUEUE.sendBatch(messages);
      } catch (error) {
        console.error("audit events not queued; will retry", error instanceof Error ? error.name : "unknown");
        return false;
      }
      this.#sql.exec("DELETE FROM audit_outbox WHERE seq <= ?", last.seq);
      if (pending.length < AUDIT_BATCH) return true;
    }
  }
}
