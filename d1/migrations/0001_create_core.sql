-- Core metadata: tenants, admin tokens, proxy keys (mirror of the TenantLedger's), provider
-- credential listings (the encrypted secret lives only in the TenantLedger), price overrides,
-- usage events and hourly rollups. Times are UTC epoch milliseconds; money is integer nano-USD.

CREATE TABLE tenants (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE admin_tokens (
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  token_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  revoked_at INTEGER,
  PRIMARY KEY (tenant_id, id)
);

CREATE TABLE api_keys (
  tenant_id TEXT NOT NULL,
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  prefix TEXT NOT NULL,
  dimensions TEXT NOT NULL DEFAULT '{}',
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER,
  PRIMARY KEY (tenant_id, id)
);

CREATE TABLE provider_credentials (
  tenant_id TEXT NOT NULL,
  provider TEXT NOT NULL,
  kind TEXT NOT NULL,
  base_url TEXT,
  key_hint TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, provider)
);

CREATE TABLE usage_events (
  tenant_id TEXT NOT NULL,
  request_id TEXT NOT NULL,
  key_id TEXT NOT NULL,
  provider TEXT NOT NULL,
  model TEXT NOT NULL,
  endpoint TEXT NOT NULL,
  stream INTEGER NOT NULL,
  status INTEGER NOT NULL,
  outcome TEXT NOT NULL,
  input_tokens INTEGER NOT NULL,
  cached_input_tokens INTEGER NOT NULL,
  cache_write_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  reasoning_tokens INTEGER NOT NULL,
  usage_source TEXT NOT NULL,
  cost_nano_usd INTEGER,
  unpriced INTEGER NOT NULL,
  price TEXT,
  started_at INTEGER NOT NULL,
  first_byte_ms INTEGER,
  total_ms INTEGER NOT NULL,
  dimensions TEXT NOT NULL DEFAULT '{}',
  rolled_up INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, request_id)
);
CREATE INDEX usage_events_by_time ON usage_events (tenant_id, started_at DESC, request_id DESC);
CREATE INDEX usage_events_pending ON usage_events (tenant_id) WHERE rolled_up = 0;

-- One row per tenant x hour x provider x model x key x dimension; dim_name = '' is the row
-- without a dimension (the totals), and each event also adds to one row per dimension it has.
CREATE TABLE usage_rollups_hourly (
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
);
