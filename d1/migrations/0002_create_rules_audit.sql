-- Budgets, policies and rate limits as the tenant's ledger mirrors them (the ledger is their
-- single writer; these rows are for listing), and the audit events the ledger emits.

CREATE TABLE ledger_rules (
  tenant_id TEXT NOT NULL,
  id TEXT NOT NULL,
  kind TEXT NOT NULL,
  name TEXT NOT NULL,
  spec TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX ledger_rules_by_kind ON ledger_rules (tenant_id, kind, created_at);

-- seq is the tenant's own order of events, assigned by its ledger.
CREATE TABLE audit_events (
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
);
CREATE INDEX audit_events_by_type ON audit_events (tenant_id, type, seq);
