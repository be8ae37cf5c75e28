-- The cloud-bill intake (issue 14; docs/cloud.md). An import is one uploaded or fetched bill
-- file; its classified lines are kept aggregated per day (no row of the bill itself, no tag,
-- no resource name). A billing period's lines count only while `cloud_periods` names their
-- import: a re-import replaces a period by pointing it at the new import once that import is
-- done, so a failed import never touches what was there.
CREATE TABLE cloud_imports (
  tenant_id TEXT NOT NULL,
  id TEXT NOT NULL,
  -- 'upload' (API or dashboard) or 'aws' (the connector)
  source TEXT NOT NULL,
  -- the name the uploader gave (shown back, never used as a path)
  file_name TEXT NOT NULL,
  -- 'queued', 'running', 'done', 'failed'
  status TEXT NOT NULL,
  -- 'csv', 'csv.gz', 'parquet' and 'cur2', 'cur_legacy', 'focus' once detected
  format TEXT,
  schema_name TEXT,
  -- JSON array of "YYYY-MM" the file held
  billing_periods TEXT NOT NULL DEFAULT '[]',
  rows_read INTEGER NOT NULL DEFAULT 0,
  rows_stored INTEGER NOT NULL DEFAULT 0,
  bytes_read INTEGER NOT NULL DEFAULT 0,
  bytes_total INTEGER NOT NULL DEFAULT 0,
  -- JSON array of the first warnings ({code, message, row, column}) and their total count
  warnings TEXT NOT NULL DEFAULT '[]',
  warning_count INTEGER NOT NULL DEFAULT 0,
  -- JSON {code, message, row, column} when failed
  error TEXT,
  -- a multipart upload still open (R2's upload id) and its part size; NULL once the file is whole
  upload_id TEXT,
  part_size INTEGER,
  -- who asked: 'admin:<id>', 'user:<id>', 'cron'
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX cloud_imports_by_time ON cloud_imports (tenant_id, created_at);

-- The parts of a multipart upload received so far (R2 needs every part's etag to complete it).
CREATE TABLE cloud_import_parts (
  tenant_id TEXT NOT NULL,
  import_id TEXT NOT NULL,
  part_number INTEGER NOT NULL,
  etag TEXT NOT NULL,
  size INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, import_id, part_number)
);

-- Which import a billing period's lines come from. period_key: "<provider>|<payer account>|YYYY-MM".
CREATE TABLE cloud_periods (
  tenant_id TEXT NOT NULL,
  period_key TEXT NOT NULL,
  import_id TEXT NOT NULL,
  replaced_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, period_key)
);

-- Classified lines summed per day and per every grouping the spend API offers. Money is
-- integer nano-units of `currency` (exact; sums are read as text), usage integer micro-units.
CREATE TABLE cloud_lines (
  tenant_id TEXT NOT NULL,
  import_id TEXT NOT NULL,
  period_key TEXT NOT NULL,
  -- epoch ms of the UTC day the charge period starts in
  day INTEGER NOT NULL,
  provider TEXT NOT NULL,
  account TEXT NOT NULL DEFAULT '',
  region TEXT NOT NULL DEFAULT '',
  service TEXT NOT NULL DEFAULT '',
  category TEXT NOT NULL,
  charge_type TEXT NOT NULL,
  model TEXT NOT NULL DEFAULT '',
  token_type TEXT NOT NULL DEFAULT '',
  instance_type TEXT NOT NULL DEFAULT '',
  usage_unit TEXT NOT NULL DEFAULT '',
  currency TEXT NOT NULL,
  cost_nano INTEGER NOT NULL,
  usage_micro INTEGER NOT NULL,
  line_count INTEGER NOT NULL
);
CREATE INDEX cloud_lines_by_day ON cloud_lines (tenant_id, day);
-- The AI views filter by category first (most lines of a bill are not AI).
CREATE INDEX cloud_lines_by_category ON cloud_lines (tenant_id, category, day);
CREATE INDEX cloud_lines_by_import ON cloud_lines (tenant_id, import_id, period_key);

-- The AWS connector of an organisation (docs/cloud.md, "The AWS connector"): the ExternalId
-- Outlay generated for it (never editable, unique: the confused-deputy guard), the role and the
-- export's bucket and prefix the organisation entered, and the connector's state. No credential
-- of any kind is stored: the role's session lives only in memory during a test or an import.
CREATE TABLE cloud_connections (
  tenant_id TEXT NOT NULL PRIMARY KEY,
  external_id TEXT NOT NULL UNIQUE,
  role_arn TEXT,
  bucket TEXT,
  prefix TEXT NOT NULL DEFAULT '',
  region TEXT,
  -- 'unconfigured' (only the ExternalId), 'unverified' (saved, not yet tested), 'connected',
  -- 'failing' (a retryable failure: tried again at the next run), 'cut' (AWS refused access:
  -- nothing is tried until the organisation tests or saves the connection again)
  state TEXT NOT NULL,
  -- JSON: the last test's or run's verdict, {ok, retryable, steps: [{step, ok, message, code}]}
  last_result TEXT,
  last_checked_at INTEGER,
  last_sync_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

-- The billing periods the connector imported, with the export's fingerprint then (a new
-- execution or a rewritten manifest changes it, and the period is imported again).
CREATE TABLE cloud_export_periods (
  tenant_id TEXT NOT NULL,
  billing_period TEXT NOT NULL,
  -- the export's manifest the period was read from, and its fingerprint then
  manifest_key TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  import_id TEXT NOT NULL,
  synced_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, billing_period)
);
