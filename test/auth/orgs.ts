// Organisations for the role, member and closure tests, made through the dashboard's own pages:
// sign-up, invitation links accepted in a new browser, admin tokens created on /org/settings.
// Each browser has its own source address, so audit events can be told apart by data.source.
import { env } from "cloudflare:workers";
import { linkHash } from "../../workers/auth/links.ts";
import type { Role } from "../../workers/auth/roles.ts";
import { apiCall } from "../helpers.ts";
import { Browser, email, openLink, PASSWORD, signUp, type Page } from "./browser.ts";

let browsers = 0;

/** A browser with an address of its own (198.51.100.0/22 is documentation space). */
export function browser(): Browser {
  browsers += 1;
  return new Browser({ source: `198.51.${100 + Math.floor(browsers / 250)}.${(browsers % 250) + 1}` });
}

export type Person = { b: Browser; email: string; userId: string };
export type Org = { tenantId: string; name: string; owner: Person };

export type UserRow = {
  id: string;
  email: string;
  name: string;
  password_hash: string | null;
  locked_at: number | null;
};

export function userByEmail(address: string): Promise<UserRow | null> {
  return env.DB.prepare("SELECT id, email, name, password_hash, locked_at FROM users WHERE email = ?")
    .bind(address)
    .first<UserRow>();
}

export async function roleIn(tenantId: string, userId: string): Promise<string | null> {
  const row = await env.DB.prepare("SELECT role FROM memberships WHERE tenant_id = ? AND user_id = ?")
    .bind(tenantId, userId)
    .first<{ role: string }>();
  return row?.role ?? null;
}

export async function count(sql: string, ...params: unknown[]): Promise<number> {
  const row = await env.DB.prepare(sql)
    .bind(...params)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** Signs up a new person with a new organisation of a unique name. */
export async function newOrg(label = "Org"): Promise<Org> {
  const b = browser();
  const name = `${label} ${Math.random().toString(36).slice(2, 10)}`;
  const { email: address } = await signUp(b, { org: name, name: `Owner of ${name}` });
  const user = await userByEmail(address);
  if (!user) throw new Error("sign-up made no user");
  const membership = await env.DB.prepare("SELECT tenant_id FROM memberships WHERE user_id = ?")
    .bind(user.id)
    .first<{ tenant_id: string }>();
  if (!membership) throw new Error("sign-up made no membership");
  return { tenantId: membership.tenant_id, name, owner: { b, email: address, userId: user.id } };
}

export type Invitation = { page: Page; path: string; token: string; id: string };

/** Every `class="secret"` text on a page (links and tokens shown once). */
export function secrets(html: string): string[] {
  return [...html.matchAll(/class="secret">([^<]*)</g)].map((m) => m[1] ?? "");
}

/** Makes an invitation link as `by` (who must be allowed to); the link is read off the page. */
export async function invite(by: Browser, role: string, forEmail = ""): Promise<Invitation> {
  const page = await by.post("/org/invitations", { email: forEmail, role });
  const url = secrets(page.html).find((s) => s.includes("/invite/"));
  const token = url?.split("/invite/")[1];
  if (page.status !== 200 || !url || !token) throw new Error(`invitation: ${page.status} ${page.html.slice(0, 300)}`);
  const row = await env.DB.prepare("SELECT id FROM invitations WHERE token_hash = ?")
    .bind(await linkHash(env, "invite", token))
    .first<{ id: string }>();
  if (!row) throw new Error("the invitation is not in D1");
  return { page, path: `/invite/${token}`, token, id: row.id };
}

/** Accepts an invitation link as someone new (sign-up fields on the invitation page). */
export async function acceptAsNew(
  path: string,
  who: { email?: string; name?: string; b?: Browser } = {},
): Promise<{ page: Page; b: Browser; email: string }> {
  const b = who.b ?? browser();
  const address = who.email ?? email("invited");
  await openLink(b, path);
  const page = await b.post("/invite", { name: who.name ?? "Invited Person", email: address, password: PASSWORD });
  return { page, b, email: address };
}

/** A new person in `org` with `role`, invited by `by` (the owner unless given), signed in there. */
export async function addMember(org: Org, role: Role, by: Browser = org.owner.b): Promise<Person> {
  const inv = await invite(by, role);
  const { page, b, email: address } = await acceptAsNew(inv.path);
  if (page.status !== 303) throw new Error(`acceptance: ${page.status} ${page.html.slice(0, 300)}`);
  await b.get("/account");
  const user = await userByEmail(address);
  if (!user) throw new Error("acceptance made no user");
  return { b, email: address, userId: user.id };
}

/** Creates an admin token on /org/settings as `by`; the token is read off the page. */
export async function createToken(by: Browser, role: string, name = `token ${role}`) {
  const page = await by.post("/org/settings/tokens", { name, role });
  const token = secrets(page.html).find((s) => s.startsWith("ola_"));
  const id = token?.split("_")[2];
  if (page.status !== 200 || !token || !id) throw new Error(`token: ${page.status} ${page.html.slice(0, 300)}`);
  return { page, token, id };
}

/** A /api/v1 call with an admin token. */
export const api = apiCall;

export type AuditRow = {
  seq: number;
  type: string;
  actor_kind: string;
  actor_id: string | null;
  subject: string | null;
  data: string;
};

/** Waits for an audit event to reach D1 (ledger → queue → consumer), matched by type and subject. */
export async function waitForAudit(
  tenantId: string,
  type: string,
  subject: string | null = null,
  timeoutMs = 5_000,
): Promise<AuditRow & { parsed: Record<string, unknown> }> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const row = await env.DB.prepare(
      `SELECT seq, type, actor_kind, actor_id, subject, data FROM audit_events
       WHERE tenant_id = ?1 AND type = ?2 AND (?3 IS NULL OR subject = ?3) ORDER BY seq DESC`,
    )
      .bind(tenantId, type, subject)
      .first<AuditRow>();
    if (row) return { ...row, parsed: JSON.parse(row.data) as Record<string, unknown> };
    if (Date.now() > until) throw new Error(`no ${type} audit event (subject ${subject}) for ${tenantId}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until at least `atLeast` audit events of a type whose data passes `match` are in D1; returns them. */
export async function waitForEvents(
  tenantId: string,
  type: string,
  match: (data: Record<string, unknown>) => boolean,
  atLeast = 1,
  timeoutMs = 5_000,
): Promise<(AuditRow & { parsed: Record<string, unknown> })[]> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { results } = await env.DB.prepare(
      `SELECT seq, type, actor_kind, actor_id, subject, data FROM audit_events WHERE tenant_id = ?1 AND type = ?2 ORDER BY seq`,
    )
      .bind(tenantId, type)
      .all<AuditRow>();
    const found = results
      .map((row) => ({ ...row, parsed: JSON.parse(row.data) as Record<string, unknown> }))
      .filter((row) => match(row.parsed));
    if (found.length >= atLeast) return found;
    if (Date.now() > until) throw new Error(`${found.length} of ${atLeast} ${type} audit events for ${tenantId}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
