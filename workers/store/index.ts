// The store layer: one module per table group owns its SQL (D1 now; a second database later
// plugs in here, so dialect-specific SQL stays in these files). Every tenant-owned query goes
// through the tenant-scoped accessor (tenant-db.ts). d1/SCHEMA.md describes every table.
export * from "./tenant-db.ts";
export * from "./usage.ts";
export * from "./audit.ts";
export * from "./audit-calls.ts";
export * from "./usage-events.ts";
export * from "./keys.ts";
export * from "./rules.ts";
export * from "./providers.ts";
export * from "./accounts.ts";
export * from "./mfa.ts";
export * from "./sessions.ts";
export * from "./throttle.ts";
export * from "./admin-tokens.ts";
export * from "./links.ts";
export * from "./sso.ts";
export * from "./purge.ts";
export * from "./exports.ts";
export * from "./webhooks.ts";
export * from "./cloud.ts";
export * from "./cloud-connections.ts";
