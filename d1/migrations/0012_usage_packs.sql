-- Per-call usage records leave D1's row-per-call layout (issue 15: rows written and bytes stored
-- per call; docs/benchmarks.md, "Where per-call records go"). A call's usage event is kept in a
-- pack: one row per queue message the usage consumer stored (the gateway's batch of an
-- organisation's calls, up to a few hundred), its events gzipped as NDJSON (~50 B an event at 100
-- a pack). A pack is written once: `pack_id` is the message's pack id; `part` -1 holds all the
-- pack's events of one UTC minute of their start (`bucket`), or, with `part` >= 0, the one event
-- at that index when a pack that could not be written whole was written event by event; so a row
-- spans under a minute and readers walk events in time order either way by the two time indexes
-- (workers/store/usage-events.ts). `nonce` names the write that stored the row: the rollups in
-- the same batch take only the rows that write inserted.
CREATE TABLE usage_packs (
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
);
CREATE INDEX usage_packs_by_last ON usage_packs (tenant_id, last_at);
CREATE INDEX usage_packs_by_first ON usage_packs (tenant_id, first_at);

-- The rows already stored become packs of up to 100 events of one minute, in time order, their
-- bodies a JSON array (TEXT; new packs are gzipped BLOBs, and readers take either). The rollups
-- already hold them.
INSERT INTO usage_packs (tenant_id, pack_id, bucket, part, first_at, last_at, n, nonce, body)
SELECT tenant_id, 'migrated-' || grp, bucket, -1, MIN(started_at), MAX(started_at), COUNT(*), 0,
  json_group_array(json(event))
FROM (
  SELECT tenant_id, started_at, started_at / 60000 AS bucket,
    (started_at / 60000) || '-' || (ROW_NUMBER() OVER (PARTITION BY tenant_id, started_at / 60000 ORDER BY started_at, request_id) - 1) / 100 AS grp,
    json_object(
      'v', 1, 'requestId', request_id, 'tenantId', tenant_id, 'keyId', key_id, 'provider', provider,
      'model', model, 'endpoint', endpoint, 'stream', json(CASE WHEN stream THEN 'true' ELSE 'false' END),
      'status', status, 'outcome', outcome,
      'usage', json_object('inputTokens', input_tokens, 'cachedInputTokens', cached_input_tokens,
        'cacheWriteTokens', cache_write_tokens, 'outputTokens', output_tokens, 'reasoningTokens', reasoning_tokens),
      'usageSource', usage_source, 'costNanoUsd', cost_nano_usd, 'price', json(price), 'startedAt', started_at,
      'firstByteMs', first_byte_ms, 'totalMs', total_ms, 'dimensions', json(dimensions)
    ) AS event
  FROM usage_events
)
GROUP BY tenant_id, bucket, grp;

DROP TABLE usage_events;
DROP TABLE usage_marks;
