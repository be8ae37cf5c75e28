// Budgets, policies and rate limits as stored by the ledger: one `rules` table, the spec as JSON
// (validated by the API before it gets here). Read through an in-memory copy per kind, dropped
// on every write, so admission reads no storage for them.
import type { z } from "zod";
import { StoredBudget, StoredPolicy, StoredRateLimit } from "../../shared/rule-specs.ts";
import { parseStored } from "../../shared/stored-json.ts";
import type { AnyRule, RuleDraft, RuleKind, RuleRecord, RuleSpecs } from "./types.ts";

/** Each kind's stored spec, checked as it is read back. */
const SPECS: { [K in RuleKind]: z.ZodType<RuleSpecs[K]> } = {
  budget: StoredBudget,
  policy: StoredPolicy,
  rate_limit: StoredRateLimit,
};

type RuleRow = { id: string; kind: string; spec: string; created_at: number; updated_at: number };

function toRecord<K extends RuleKind>(row: RuleRow, kind: K): RuleRecord<K> {
  return {
    id: row.id,
    kind,
    spec: parseStored(SPECS[kind], row.spec, `${kind} spec`),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export class RuleStore {
  readonly #sql: SqlStorage;
  #cache = new Map<RuleKind, readonly RuleRecord[]>();

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  list<K extends RuleKind>(kind: K): readonly RuleRecord<K>[] {
    let list = this.#cache.get(kind) as readonly RuleRecord<K>[] | undefined;
    if (!list) {
      list = this.#sql
        .exec<RuleRow>("SELECT * FROM rules WHERE kind = ? ORDER BY created_at, id", kind)
        .toArray()
        .map((row) => toRecord(row, kind));
      this.#cache.set(kind, list);
    }
    return list;
  }

  get<K extends RuleKind>(kind: K, id: string): RuleRecord<K> | null {
    return this.list(kind).find((r) => r.id === id) ?? null;
  }

  /** Inserts or replaces; keeps the creation time of a rule that existed. */
  put(draft: RuleDraft, id: string, now: number): AnyRule {
    const createdAt = this.get(draft.kind, id)?.createdAt ?? now;
    this.#sql.exec(
      "INSERT OR REPLACE INTO rules (id, kind, spec, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
      id,
      draft.kind,
      JSON.stringify(draft.spec),
      createdAt,
      now,
    );
    this.#cache.delete(draft.kind);
    return { ...draft, id, createdAt, updatedAt: now };
  }

  delete(kind: RuleKind, id: string): boolean {
    const removed = this.#sql.exec("DELETE FROM rules WHERE kind = ? AND id = ?", kind, id).rowsWritten > 0;
    this.#cache.delete(kind);
    return removed;
  }
}
