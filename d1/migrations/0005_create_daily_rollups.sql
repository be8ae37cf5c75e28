-- Usage read fast at tens of millions of events (issue #5):
-- 1. Daily rollups (UTC days) beside the hourly ones, same shape. A range of whole UTC days is read
--    from them; the hours at its ends from the hourly rollups, so every answer stays exact for
--    any hour-aligned range, whatever the time zone.
-- 2. Both rollup tables WITHOUT ROWID: the primary key is the table, so a range of it is read in
--    place instead of one lookup per row.
-- 3. api_keys.last_used_at: the start of the key's latest call, kept by the usage consumer.
CREATE TABLE usage_rollups_hourly_new (
  tenant_id TEXT NOT NULL,
  hour INTEGER NOT NULL,
  provider TEXT NOT NULL,
  model TEXT NOT NULL,
  key_id TEXT NOT NULL,
  dim_name TEXT NOT NULL,
  dim_value TEXT NOT NULL,
  requests INTEGER NOT NULL,
  input_tokens INTEGER NOT NULL,
  cached_input_tokens INTEGER NOT NULL,
  cache_write_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  reasoning_tokens INTEGER NOT NULL,
  cost_nano_usd INTEGER NOT NULL,
  unpriced_requests INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, dim_name, hour, provider, model, key_id, dim_value)
) WITHOUT ROWID;
INSERT INTO usage_rollups_hourly_new SELECT tenant_id, hour, provider, model, key_id, dim_name, dim_value, requests,
  input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, cost_nano_usd, unpriced_requests
  FROM usage_rollups_hourly;
DROP TABLE usage_rollups_hourly;
ALTER TABLE usage_rollups_hourly_new RENAME TO usage_rollups_hourly;

CREATE TABLE usage_rollups_daily (
  tenant_id TEXT NOT NULL,
  day INTEGER NOT NULL,
  provider TEXT NOT NULL,
  model TEXT NOT NULL,
  key_id TEXT NOT NULL,
  dim_name TEXT NOT NULL,
  dim_value TEXT NOT NULL,
  requests INTEGER NOT NULL,
  input_tokens INTEGER NOT NULL,
  cached_input_tokens INTEGER NOT NULL,
  cache_write_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  reasoning_tokens INTEGER NOT NULL,
  cost_nano_usd INTEGER NOT NULL,
  unpriced_requests INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, dim_name, day, provider, model, key_id, dim_value)
) WITHOUT ROWID;
INSERT INTO usage_rollups_daily SELECT tenant_id, (hour / 86400000) * 86400000, provider, model, key_id, dim_name,
  dim_value, SUM(requests), SUM(input_tokens), SUM(cached_input_tokens), SUM(cache_write_tokens), SUM(output_tokens),
  SUM(reasoning_tokens), SUM(cost_nano_usd), SUM(unpriced_requests)
  FROM usage_rollups_hourly GROUP BY tenant_id, dim_name, 2, provider, model, key_id, dim_value;

ALTER TABLE api_keys ADD COLUMN last_used_at INTEGER;
UPDATE api_keys SET last_used_at = latest.at
  FROM (SELECT tenant_id, key_id, MAX(started_at) AS at FROM usage_events GROUP BY tenant_id, key_id) AS latest
  WHERE latest.tenant_id = api_keys.tenant_id AND latest.key_id = api_keys.id;
