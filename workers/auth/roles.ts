// Roles and what each may do: the one table every route (dashboard and /api/v1) consults.
// docs/accounts.md prints it; test/auth/roles.test.ts walks every route against it.

import { ROLES, type Role } from "../../shared/roles.ts";

export { ROLES, isRole, type Role } from "../../shared/roles.ts";

export type Permission =
  /** see spend, usage, keys, rules, providers (masked), settings, members, the audit trail */
  | "read"
  /** create proxy keys, and revoke the keys one created oneself */
  | "keys:own"
  /** revoke anyone's proxy keys */
  | "keys:any"
  /** budgets, policies, rate limits, providers, price overrides, settings */
  | "config:write"
  /** invite, remove and change the role of members (never to or from owner), unlock, reset links */
  | "members:manage"
  /** admin API tokens */
  | "tokens:manage"
  /** MFA requirement and single sign-on */
  | "security:manage"
  /** make others owner, close the organisation */
  | "org:own";

const GRANTS: Record<Role, readonly Permission[]> = {
  owner: [
    "read",
    "keys:own",
    "keys:any",
    "config:write",
    "members:manage",
    "tokens:manage",
    "security:manage",
    "org:own",
  ],
  admin: ["read", "keys:own", "keys:any", "config:write", "members:manage", "tokens:manage", "security:manage"],
  member: ["read", "keys:own"],
  viewer: ["read"],
};

export function can(role: Role, permission: Permission): boolean {
  return GRANTS[role].includes(permission);
}

/** Roles an actor may hand out: owners any, admins up to admin, nobody else any. */
export function assignableRoles(actor: Role): Role[] {
  if (actor === "owner") return [...ROLES];
  if (actor === "admin") return ["admin", "member", "viewer"];
  return [];
}
