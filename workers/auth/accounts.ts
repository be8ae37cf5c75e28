// People, organisations and memberships: what a person's account is (its rows live in the store,
// workers/store/accounts.ts), how an email is normalised, and sign-up's new person and organisation.
import { z } from "zod";
import { newId } from "../../shared/ids.ts";
import {
  findUserById,
  insertAccount,
  listOpenMemberships,
  type OrgMembershipRow,
  type UserRow,
} from "../store/index.ts";
import type { Role } from "./roles.ts";

export type User = UserRow;

/** An organisation as one of its members sees it. */
export type Membership = {
  tenantId: string;
  name: string;
  role: Role;
  mfaRequired: boolean;
};

function membership(r: OrgMembershipRow): Membership {
  return { tenantId: r.tenant_id, name: r.name, role: r.role, mfaRequired: r.mfa_required === 1 };
}

const Email = z.email().max(254);

/** Lower-case, NFKC, trimmed; null when it is not an email address. */
export function normaliseEmail(text: string): string | null {
  const email = text.normalize("NFKC").trim().toLowerCase();
  return Email.safeParse(email).success ? email : null;
}

export function getUser(env: Env, id: string): Promise<User | null> {
  return findUserById(env.DB, id);
}

/** The open organisations a person belongs to, oldest membership first. */
export async function membershipsOf(env: Env, userId: string): Promise<Membership[]> {
  return (await listOpenMemberships(env.DB, userId)).map(membership);
}

export type NewUser = { email: string; name: string; passwordHash: string | null };

/** Sign-up: a person and the organisation they own, in one batch. Null when the email is taken. */
export async function createAccount(
  env: Env,
  input: NewUser & { orgName: string },
  now = Date.now(),
): Promise<{ userId: string; tenantId: string } | null> {
  const userId = newId();
  const tenantId = newId();
  if (!(await insertAccount(env.DB, { ...input, id: userId, tenantId }, now))) return null;
  return { userId, tenantId };
}
