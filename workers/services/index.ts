// Business operations that both the management API (workers/api/) and the dashboard
// (workers/dashboard/) perform, one module each: proxy keys, rules (budgets, policies, rate
// limits), provider credentials and names, members, settings. Each checks its input, goes
// through the tenant's ledger or the stores, and answers a value or an AppError (see
// docs/architecture.md, "Errors"). Every export of these modules is public: this is their front door.
export * from "./keys.ts";
export * from "./members.ts";
export * from "./provider-names.ts";
export * from "./providers.ts";
export * from "./rules.ts";
export * from "./settings.ts";
export * from "./export.ts";
export { usageValues } from "./export-lines.ts";
