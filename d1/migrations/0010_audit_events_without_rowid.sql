-- The audit index keyed by its primary key alone (issue 15: rows written per call). As a rowid
-- table, each event wrote three rows: the row, its (tenant_id, seq) key index and the type index.
-- WITHOUT ROWID the primary key is the table: two, and no rowid or key copy stored per event.
CREATE TABLE audit_events_v10 (
  tenant_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  at INTEGER NOT NULL,
  type TEXT NOT NULL,
  actor_kind TEXT NOT NULL,
  actor_id TEXT,
  request_id TEXT,
  subject TEXT,
  data TEXT NOT NULL,
  PRIMARY KEY (tenant_id, seq)
) WITHOUT ROWID;
INSERT INTO audit_events_v10 (tenant_id, seq, at, type, actor_kind, actor_id, request_id, subject, data)
  SELECT tenant_id, seq, at, type, actor_kind, actor_id, request_id, subject, data FROM audit_events;
DROP TABLE audit_events;
ALTER TABLE audit_events_v10 RENAME TO audit_events;
CREATE INDEX audit_events_by_type ON audit_events (tenant_id, type, seq);
