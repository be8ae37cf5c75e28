-- Usage packs keyed by their primary key alone (issue 15: rows written per call). As a rowid
-- table each pack wrote four rows: the row, its key index and the two time indexes. WITHOUT ROWID
-- the key is the table: three. Readers break ties in time by the key instead of the rowid
-- (workers/store/usage-events.ts).
CREATE TABLE usage_packs_v14 (
  tenant_id TEXT NOT NULL,
  pack_id TEXT NOT NULL,
  bucket INTEGER NOT NULL,
  part INTEGER NOT NULL,
  first_at INTEGER NOT NULL,
  last_at INTEGER NOT NULL,
  n INTEGER NOT NULL,
  nonce INTEGER NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (tenant_id, pack_id, bucket, part)
) WITHOUT ROWID;
INSERT INTO usage_packs_v14 (tenant_id, pack_id, bucket, part, first_at, last_at, n, nonce, body)
  SELECT tenant_id, pack_id, bucket, part, first_at, last_at, n, nonce, body FROM usage_packs;
DROP TABLE usage_packs;
ALTER TABLE usage_packs_v14 RENAME TO usage_packs;
CREATE INDEX usage_packs_by_last ON usage_packs (tenant_id, last_at);
CREATE INDEX usage_packs_by_first ON usage_packs (tenant_id, first_at);
