-- Webhook streaming of the audit trail (issue 13 §4; docs/webhooks.md). Endpoints per
-- organisation, the messages sent to them (one per endpoint and audit event, `id` is the
-- Standard Webhooks `webhook-id`, stable across retries) and every delivery attempt. Secrets are
-- stored sealed with DATA_KEYS (AES-256-GCM, the tenant and endpoint bound as additional data);
-- a receiver's response body is never stored.
CREATE TABLE webhook_endpoints (
  tenant_id TEXT NOT NULL,
  id TEXT NOT NULL,
  url TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  -- JSON array of audit event types, or NULL for every type but the high-volume ones
  event_types TEXT,
  secret TEXT NOT NULL,
  secret_hint TEXT NOT NULL,
  previous_secret TEXT,
  previous_until INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  -- set when disabled: 'gone' (the receiver answered 410), 'failing' (5 days of failures), 'manual'
  disabled_at INTEGER,
  disabled_reason TEXT,
  -- the first failure since the last success, NULL while deliveries succeed
  failing_since INTEGER,
  last_success_at INTEGER,
  PRIMARY KEY (tenant_id, id)
);

CREATE TABLE webhook_messages (
  tenant_id TEXT NOT NULL,
  id TEXT NOT NULL,
  endpoint_id TEXT NOT NULL,
  -- the audit event's seq, NULL for a test message
  seq INTEGER,
  type TEXT NOT NULL,
  -- the JSON body sent: { type, timestamp, data } (the audit event: metadata only)
  payload TEXT NOT NULL,
  -- 'pending' (being tried), 'delivered', 'failed' (every attempt failed; kept for recover/replay)
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  enqueued_at INTEGER,
  last_attempt_at INTEGER,
  delivered_at INTEGER,
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX webhook_messages_by_seq ON webhook_messages (tenant_id, endpoint_id, seq);
CREATE INDEX webhook_messages_by_status ON webhook_messages (tenant_id, endpoint_id, status, created_at);

CREATE TABLE webhook_attempts (
  tenant_id TEXT NOT NULL,
  message_id TEXT NOT NULL,
  endpoint_id TEXT NOT NULL,
  attempt INTEGER NOT NULL,
  at INTEGER NOT NULL,
  -- the receiver's HTTP status, NULL when none came back
  status_code INTEGER,
  latency_ms INTEGER NOT NULL,
  -- NULL on success; 'http_status', 'redirect', 'timeout', 'network', 'gone', 'url_refused'
  error_class TEXT,
  PRIMARY KEY (tenant_id, message_id, attempt)
);
CREATE INDEX webhook_attempts_by_endpoint ON webhook_attempts (tenant_id, endpoint_id, at);
