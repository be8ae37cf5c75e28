-- Accounts (issue #4): people, their organisations (an organisation is a tenant), sessions,
-- MFA, invitations, sign-in throttling, SSO. Secrets are never stored: passwords as scrypt
-- hashes, tokens and recovery codes as HMAC-SHA-256(pepper) hashes, the TOTP seed and the SSO
-- client secret sealed with DATA_KEYS (AES-256-GCM). Times are UTC epoch milliseconds.

ALTER TABLE tenants ADD COLUMN closed_at INTEGER;
-- When a closed organisation's data is deleted (closed_at + 30 days); the scheduled purge reads it.
ALTER TABLE tenants ADD COLUMN purge_at INTEGER;
ALTER TABLE tenants ADD COLUMN mfa_required INTEGER NOT NULL DEFAULT 0;
CREATE INDEX tenants_to_purge ON tenants (purge_at) WHERE purge_at IS NOT NULL;

-- Admin API tokens carry a role; those minted by the operator bootstrap are admins.
ALTER TABLE admin_tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'admin';
ALTER TABLE admin_tokens ADD COLUMN created_by TEXT;
-- Who made a proxy key ("user:<id>", "admin:<token id>"): members may revoke their own keys.
ALTER TABLE api_keys ADD COLUMN created_by TEXT;

-- People are global; what they may see is their memberships.
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  password_hash TEXT,
  password_changed_at INTEGER,
  -- sealed TOTP seed once enrolment is confirmed; totp_pending while waiting for the first code
  totp_secret TEXT,
  totp_pending TEXT,
  totp_last_step INTEGER,
  mfa_enabled_at INTEGER,
  -- set by the lockout; lifted by a password reset or an admin
  locked_at INTEGER,
  created_at INTEGER NOT NULL
);

CREATE TABLE recovery_codes (
  user_id TEXT NOT NULL REFERENCES users(id),
  code_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  used_at INTEGER,
  PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE memberships (
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  user_id TEXT NOT NULL REFERENCES users(id),
  role TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX memberships_by_user ON memberships (user_id);

CREATE TABLE invitations (
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  id TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  email TEXT,
  role TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  accepted_at INTEGER,
  accepted_by TEXT,
  revoked_at INTEGER,
  PRIMARY KEY (tenant_id, id)
);

-- Opaque session tokens (256 bits) stored as HMAC hashes. `stage` is what the session may do:
-- 'mfa' (password accepted, waiting for a code), 'enrol' (must enrol TOTP first), 'full'.
CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  user_id TEXT NOT NULL REFERENCES users(id),
  tenant_id TEXT,
  stage TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  source TEXT,
  agent TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

-- Failed sign-ins per account (subject = hash of the normalised email, whether or not such an
-- account exists) and per source address.
CREATE TABLE sign_in_failures (
  scope TEXT NOT NULL,
  subject TEXT NOT NULL,
  failures INTEGER NOT NULL,
  first_at INTEGER NOT NULL,
  last_at INTEGER NOT NULL,
  PRIMARY KEY (scope, subject)
);

-- Single-use password reset links, made by an organisation's owner or admin for a member.
CREATE TABLE password_resets (
  token_hash TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  user_id TEXT NOT NULL REFERENCES users(id),
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER
);
CREATE INDEX password_resets_by_tenant ON password_resets (tenant_id);

CREATE TABLE sso_configs (
  tenant_id TEXT PRIMARY KEY REFERENCES tenants(id),
  issuer TEXT NOT NULL,
  client_id TEXT NOT NULL,
  client_secret TEXT NOT NULL,
  default_role TEXT NOT NULL,
  updated_at INTEGER NOT NULL
);

-- Which person an identity provider's subject is, per organisation.
CREATE TABLE sso_identities (
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  issuer TEXT NOT NULL,
  subject TEXT NOT NULL,
  user_id TEXT NOT NULL REFERENCES users(id),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, issuer, subject)
);

-- A sign-in started at the identity provider, waiting for its answer (10 minutes, single use).
CREATE TABLE sso_requests (
  state_hash TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  nonce TEXT NOT NULL,
  code_verifier TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
