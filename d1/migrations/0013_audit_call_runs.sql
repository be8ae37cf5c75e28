-- call.admitted leaves audit_events' row per call (issue 15: rows written and bytes stored per
-- call; docs/benchmarks.md). The audit consumer keeps them as runs: one row per stretch of
-- consecutive seqs stored together, its events (v1 audit events, docs/audit.md) gzipped as NDJSON.
-- A row holds exactly the seqs from first_seq to last_seq, so a seq a row covers is stored already
-- (workers/store/audit-calls.ts). first_at and last_at bound the events' times for range reads.
CREATE TABLE audit_call_runs (
  tenant_id TEXT NOT NULL,
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  first_at INTEGER NOT NULL,
  last_at INTEGER NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (tenant_id, first_seq)
) WITHOUT ROWID;

-- The events already stored become runs of up to 100 consecutive seqs, their bodies a JSON array
-- (TEXT; new runs are gzipped BLOBs, and readers take either).
INSERT INTO audit_call_runs (tenant_id, first_seq, last_seq, first_at, last_at, body)
SELECT tenant_id, MIN(seq), MAX(seq), MIN(at), MAX(at), json_group_array(json(event))
FROM (
  SELECT tenant_id, seq, at, island,
    (ROW_NUMBER() OVER (PARTITION BY tenant_id, island ORDER BY seq) - 1) / 100 AS grp,
    json_object(
      'v', 1, 'tenantId', tenant_id, 'seq', seq, 'at', at, 'type', type,
      'actor', CASE WHEN actor_id IS NULL THEN json_object('kind', actor_kind)
        ELSE json_object('kind', actor_kind, 'id', actor_id) END,
      'requestId', request_id, 'subject', subject, 'data', json(data)
    ) AS event
  FROM (
    SELECT tenant_id, seq, at, type, actor_kind, actor_id, request_id, subject, data,
      seq - ROW_NUMBER() OVER (PARTITION BY tenant_id ORDER BY seq) AS island
    FROM audit_events WHERE type = 'call.admitted'
  )
)
GROUP BY tenant_id, island, grp;

DELETE FROM audit_events WHERE type = 'call.admitted';
