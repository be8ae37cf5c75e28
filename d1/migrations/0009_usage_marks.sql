-- Rollups take the rows a batch inserted by rowid instead of a flag (issue 15: rows written per
-- call). Each usage batch first records, per tenant, the largest rowid of usage_events; every row
-- the batch then inserts has a larger one (one transaction, D1's single writer), so the rollup
-- statements take `rowid > after_rowid` and nothing has to be marked afterwards: per event, one
-- row and its time index are written instead of that plus a pending index entry, an UPDATE and
-- the entry's removal.
CREATE TABLE usage_marks (
  tenant_id TEXT PRIMARY KEY,
  after_rowid INTEGER NOT NULL
);
DROP INDEX usage_events_pending;
ALTER TABLE usage_events DROP COLUMN rolled_up;
