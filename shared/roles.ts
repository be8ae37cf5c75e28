// The roles a person (a membership, an invitation) or an admin token can hold in an organisation.
// What each may do is the auth component's business (workers/auth/roles.ts); the names are shared
// because the store keeps them in rows (memberships, invitations, admin_tokens, sso_configs).

export const ROLES = ["owner", "admin", "member", "viewer"] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: unknown): value is Role {
  return typeof value === "string" && (ROLES as readonly string[]).includes(value);
}
