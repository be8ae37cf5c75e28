// TenantLedger storage (SQLite-backed Durable Object storage), created behind a stored version,
// and the tenant it belongs to (bound by the first change). Every table and row shape is
// documented in workers/ledger/README.md.

export const SCHEMA_VERSION = 8;

export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
   CREATE TABLE IF NOT EXISTS keys (
     id TEXT PRIMARY KEY, hash TEXT NOT NULL, name TEXT NOT NULL, prefix TEXT NOT NULL,
     dimensions TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER, revoked_at INTEGER);
   CREATE TABLE IF NOT EXISTS providers (
     name TEXT PRIMARY KEY, format TEXT NOT NULL, base_url TEXT, credential TEXT NOT NULL,
     key_hint TEXT NOT NULL, updated_at INTEGER NOT NULL);
   CREATE TABLE IF NOT EXISTS price_overrides (
     provider TEXT NOT NULL, model TEXT NOT NULL, input TEXT NOT NULL, cached_input TEXT NOT NULL,
     cache_write TEXT NOT NULL, output TEXT NOT NULL, PRIMARY KEY (provider, model));
   CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, sql TEXT NOT NULL, params TEXT NOT NULL);`,
  `CREATE TABLE rules (
     id TEXT PRIMARY KEY, kind TEXT NOT NULL, spec TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
   CREATE TABLE holds (
     request_id TEXT PRIMARY KEY, key_id TEXT NOT NULL, amount TEXT NOT NULL, drawn TEXT NOT NULL, tokens INTEGER NOT NULL,
     budgets TEXT NOT NULL, limits TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
   CREATE INDEX holds_by_expiry ON holds (expires_at);
   CREATE TABLE budget_spend (
     budget_id TEXT NOT NULL, window_key INTEGER NOT NULL, spent TEXT NOT NULL, PRIMARY KEY (budget_id, window_key));
   CREATE TABLE budget_alerts (
     budget_id TEXT NOT NULL, window_key INTEGER NOT NULL, percent INTEGER NOT NULL, at INTEGER NOT NULL,
     PRIMARY KEY (budget_id, window_key, percent));
   CREATE TABLE settled (request_id TEXT PRIMARY KEY, at INTEGER NOT NULL);
   CREATE INDEX settled_by_time ON settled (at);
   CREATE TABLE audit_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL);`,
  // Key rotation: the secret's hint, the previous secret's hash accepted until previous_until,
  // and the id of the last rotation (a retry with the same id changes nothing).
  `ALTER TABLE keys ADD COLUMN hint TEXT;
   ALTER TABLE keys ADD COLUMN rotated_at INTEGER;
   ALTER TABLE keys ADD COLUMN rotation_id TEXT;
   ALTER TABLE keys ADD COLUMN previous_hash TEXT;
   ALTER TABLE keys ADD COLUMN previous_hint TEXT;
   ALTER TABLE keys ADD COLUMN previous_until INTEGER;`,
  // Outboxes robust to one bad message (outbox.ts, queue-lane.ts): refusals counted per row, usage
  // events the gateway could not queue, and what was set aside (a bounded copy, newest 1,000).
  `ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE audit_outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
   CREATE TABLE usage_outbox (
     seq INTEGER PRIMARY KEY AUTOINCREMENT, request_id TEXT NOT NULL, event TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0);
   CREATE TABLE outbox_dead (
     id INTEGER PRIMARY KEY AUTOINCREMENT, outbox TEXT NOT NULL, seq INTEGER NOT NULL, reason TEXT NOT NULL,
     bytes INTEGER NOT NULL, at INTEGER NOT NULL, body TEXT NOT NULL);`,
  // Audit seqs without AUTOINCREMENT, whose sqlite_sequence row was one more row written per
  // event: the next seq is one above both the outbox's highest and `meta.audit_seq`, the highest
  // ever sent (outbox.ts), so a seq is never given twice once its row has gone.
  `INSERT OR REPLACE INTO meta (k, v)
     SELECT 'audit_seq', CAST(seq AS TEXT) FROM sqlite_sequence WHERE name = 'audit_outbox';
   CREATE TABLE audit_outbox_v5 (seq INTEGER PRIMARY KEY, event TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0);
   INSERT INTO audit_outbox_v5 (seq, event, attempts) SELECT seq, event, attempts FROM audit_outbox;
   DROP TABLE audit_outbox;
   ALTER TABLE audit_outbox_v5 RENAME TO audit_outbox;`,
  // Runs of audit events in one row (outbox.ts auditRun): `event` is then a JSON array of `n`
  // drafts on the seqs from `seq` to `seq + n - 1`.
  `ALTER TABLE audit_outbox ADD COLUMN n INTEGER NOT NULL DEFAULT 1;`,
  // The two tables a settled call writes, keyed by their primary key alone (WITHOUT ROWID): a
  // hold and a settled id each wrote three rows (the row, its key index, its time index), now two.
  `CREATE TABLE holds_v7 (
     request_id TEXT PRIMARY KEY, key_id TEXT NOT NULL, amount TEXT NOT NULL, drawn TEXT NOT NULL, tokens INTEGER NOT NULL,
     budgets TEXT NOT NULL, limits TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID;
   INSERT INTO holds_v7 (request_id, key_id, amount, drawn, tokens, budgets, limits, created_at, expires_at)
     SELECT request_id, key_id, amount, drawn, tokens, budgets, limits, created_at, expires_at FROM holds;
   DROP TABLE holds;
   ALTER TABLE holds_v7 RENAME TO holds;
   CREATE INDEX holds_by_expiry ON holds (expires_at);
   CREATE TABLE settled_v7 (request_id TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;
   INSERT INTO settled_v7 (request_id, at) SELECT request_id, at FROM settled;
   DROP TABLE settled;
   ALTER TABLE settled_v7 RENAME TO settled;
   CREATE INDEX settled_by_time ON settled (at);`,
  // No time index on holds or settled ids: each was one more row written per call. Holds are the
  // calls in flight (a scan at the alarm is cheap); settled ids are request ids, which sort by
  // time, so the old ones are a range of the primary key (holds.ts expire).
  `DROP INDEX IF EXISTS holds_by_expiry;
   DROP INDEX IF EXISTS settled_by_time;`,
];

export function migrate(sql: SqlStorage): void {
  sql.exec("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)");
  const row = sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'schema_version'").toArray()[0];
  let version = row ? Number(row.v) : 0;
  while (version < MIGRATIONS.length) {
    const step = MIGRATIONS[version];
    if (step) sql.exec(step);
    version += 1;
    sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES ('schema_version', ?)", String(version));
  }
}

/** Binds the ledger to `tenantId` on its first change; every later change must name the same one. */
export function bindTenant(sql: SqlStorage, tenantId: string): void {
  const bound = boundTenant(sql);
  if (bound === null) sql.exec("INSERT INTO meta (k, v) VALUES ('tenant_id', ?)", tenantId);
  // An invariant, not an expected failure: ledgerFor() names each ledger by its tenant id, so
  // another tenant here is a bug in the caller.
  else if (bound !== tenantId) throw new Error("ledger belongs to another tenant");
}

/** The tenant this ledger belongs to, or null before its first change. */
export function boundTenant(sql: SqlStorage): string | null {
  return sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'tenant_id'").toArray()[0]?.v ?? null;
}
