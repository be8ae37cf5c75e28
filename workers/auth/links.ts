// Single-use links: invitations (7 days) and password resets (1 hour). The token in the URL is
// "<organisation id>.<160 random bits>"; only HMAC-SHA-256(pepper) of it is stored, and the
// organisation part lets every lookup go through the tenant-scoped accessor.
import { keyHash } from "../../shared/crypto.ts";
import { newSecret } from "../../shared/ids.ts";
import { TENANT_ID } from "../../shared/keys.ts";

export const INVITATION_TTL_MS = 7 * 24 * 60 * 60 * 1000;
export const RESET_TTL_MS = 60 * 60 * 1000;

export type LinkKind = "invite" | "reset";

export function linkHash(env: Env, kind: LinkKind, token: string): Promise<string> {
  return keyHash(env.KEY_PEPPER, `outlay/${kind}/v1\0${token}`);
}

export function newLinkToken(tenantId: string): string {
  return `${tenantId}.${newSecret()}`;
}

/** The organisation a link token belongs to, or null when it cannot be one of ours. */
export function linkTenant(token: string): string | null {
  const match = /^([a-z2-7]{12})\.[a-z2-7]{32}$/.exec(token);
  return match?.[1] && TENANT_ID.test(match[1]) ? match[1] : null;
}
