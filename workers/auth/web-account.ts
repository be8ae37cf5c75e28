// The signed-in account of a dashboard request: its session, person and organisations, as the
// dashboard's guards (workers/dashboard/guards.ts) load it, and the address the request came from.
import type { Context } from "hono";
import type { Membership, User } from "./accounts.ts";
import type { Session } from "./sessions.ts";

export type Account = {
  session: Session;
  user: User;
  /** the organisation the session is in (null when the person belongs to none) */
  org: Membership | null;
  orgs: Membership[];
  csrf: string;
};

export type WebEnv = { Bindings: Env; Variables: { account: Account | null; source: string } };

/** The address a request came from (Cloudflare sets cf-connecting-ip at the edge). */
export function sourceOf(c: Context): string {
  return c.req.header("cf-connecting-ip") ?? "unknown";
}

/** The signed-in person, behind requireAccount (a bug if absent). */
export function signedIn(c: Context<WebEnv>): Account {
  const account = c.get("account");
  if (!account) throw new Error("requireAccount let a request through without an account");
  return account;
}

/** The person and their current organisation, behind requirePermission (a bug if absent). */
export function signedInOrg(c: Context<WebEnv>): { a: Account; org: Membership } {
  const a = signedIn(c);
  if (!a.org) throw new Error("requirePermission let a request through without an organisation");
  return { a, org: a.org };
}
