// Dashboard sessions: opaque tokens of 256 random bits, stored only as HMAC-SHA-256(SESSION_SECRET)
// hashes, so a leaked table cannot be replayed. One hour idle, twelve hours absolute; a session
// waiting for its MFA code lives ten minutes. Rotation replaces the token (and its hash) while
// keeping the session's id, so the list of sessions a person sees stays stable.
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { keyHash } from "../../shared/crypto.ts";
import { base32 } from "../../shared/encoding.ts";
import { newId, randomBytes } from "../../shared/ids.ts";

export const SESSION_IDLE_MS = 60 * 60 * 1000;
export const SESSION_ABSOLUTE_MS = 12 * 60 * 60 * 1000;
/** A session that has the password but not yet the second factor. */
export const SESSION_MFA_MS = 10 * 60 * 1000;
/** last_seen_at is written at most this often: a page view is not a D1 write. */
const TOUCH_EVERY_MS = 60 * 1000;
const COOKIE = "outlay_session";
/** 256 bits in base32 */
const TOKEN_LENGTH = 52;

/** What a session may do: enter its MFA code, enrol TOTP (its organisation requires it), or anything. */
export type Stage = "mfa" | "enrol" | "full";

export type Session = {
  id: string;
  tokenHash: string;
  userId: string;
  tenantId: string | null;
  stage: Stage;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  source: string | null;
  agent: string | null;
};

type SessionRow = {
  id: string;
  token_hash: string;
  user_id: string;
  tenant_id: string | null;
  stage: Stage;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  source: string | null;
  agent: string | null;
};

function fromRow(r: SessionRow): Session {
  return {
    id: r.id,
    tokenHash: r.token_hash,
    userId: r.user_id,
    tenantId: r.tenant_id,
    stage: r.stage,
    createdAt: r.created_at,
    lastSeenAt: r.last_seen_at,
    expiresAt: r.expires_at,
    source: r.source,
    agent: r.agent,
  };
}

function tokenHash(env: Env, token: string): Promise<string> {
  return keyHash(env.SESSION_SECRET, `outlay/session/v1\0${token}`);
}

function newToken(): string {
  return base32(randomBytes(32));
}

export type NewSession = {
  userId: string;
  tenantId: string | null;
  stage: Stage;
  source: string | null;
  agent: string | null;
};

/** Starts a session; returns the token for the cookie (never stored). */
export async function createSession(env: Env, s: NewSession, now = Date.now()): Promise<string> {
  const token = newToken();
  const lifetime = s.stage === "mfa" ? SESSION_MFA_MS : SESSION_ABSOLUTE_MS;
  await env.DB.prepare(
    `INSERT INTO sessions (token_hash, id, user_id, tenant_id, stage, created_at, last_seen_at, expires_at, source, agent)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  )
    .bind(
      await tokenHash(env, token),
      newId(),
      s.userId,
      s.tenantId,
      s.stage,
      now,
      now,
      now + lifetime,
      s.source,
      s.agent,
    )
    .run();
  return token;
}

/** The live session a token names, or null (unknown, idle for an hour, past its lifetime). */
export async function findSession(env: Env, token: string | undefined, now = Date.now()): Promise<Session | null> {
  if (!token || token.length !== TOKEN_LENGTH) return null;
  const hash = await tokenHash(env, token);
  const row = await env.DB.prepare("SELECT * FROM sessions WHERE token_hash = ?").bind(hash).first<SessionRow>();
  if (!row) return null;
  if (now >= row.expires_at || now - row.last_seen_at >= SESSION_IDLE_MS) {
    await env.DB.prepare("DELETE FROM sessions WHERE token_hash = ?").bind(hash).run();
    return null;
  }
  if (now - row.last_seen_at >= TOUCH_EVERY_MS) {
    await env.DB.prepare("UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?").bind(now, hash).run();
    row.last_seen_at = now;
  }
  return fromRow(row);
}

/** A new token for the same session (sign-in step-up, organisation switch, role change), with
 * the changes given; the old token stops working at once. A session leaving the MFA stage gets
 * the full lifetime from its start. */
export async function rotateSession(
  env: Env,
  session: Session,
  changes: { stage?: Stage; tenantId?: string | null },
  now = Date.now(),
): Promise<string> {
  const token = newToken();
  const stage = changes.stage ?? session.stage;
  const tenantId = changes.tenantId === undefined ? session.tenantId : changes.tenantId;
  const expiresAt = stage === "mfa" ? session.expiresAt : session.createdAt + SESSION_ABSOLUTE_MS;
  const result = await env.DB.prepare(
    "UPDATE sessions SET token_hash = ?, stage = ?, tenant_id = ?, last_seen_at = ?, expires_at = ? WHERE token_hash = ?",
  )
    .bind(await tokenHash(env, token), stage, tenantId, now, expiresAt, session.tokenHash)
    .run();
  if (result.meta.changes !== 1) throw new Error("session vanished during rotation");
  return token;
}

export async function revokeSession(env: Env, userId: string, id: string): Promise<boolean> {
  const result = await env.DB.prepare("DELETE FROM sessions WHERE user_id = ? AND id = ?").bind(userId, id).run();
  return result.meta.changes > 0;
}

/** Sign out everywhere (or everywhere else); also used when a password changes. */
export async function revokeUserSessions(env: Env, userId: string, exceptId: string | null = null): Promise<number> {
  const result = await env.DB.prepare("DELETE FROM sessions WHERE user_id = ? AND id IS NOT ?")
    .bind(userId, exceptId)
    .run();
  return result.meta.changes;
}

export async function listSessions(env: Env, userId: string, now = Date.now()): Promise<Session[]> {
  const { results } = await env.DB.prepare(
    "SELECT * FROM sessions WHERE user_id = ? AND expires_at > ? AND last_seen_at > ? ORDER BY last_seen_at DESC",
  )
    .bind(userId, now, now - SESSION_IDLE_MS)
    .all<SessionRow>();
  return results.map(fromRow);
}

// ---- the cookie ------------------------------------------------------------------------------

/** Plain-http loopback (the self-trial's `wrangler dev`) is the one place a cookie cannot be
 * `Secure`; everywhere else it is, with the `__Host-` prefix (no Domain, Path=/). */
export function plainLoopback(c: Context): boolean {
  const url = new URL(c.req.url);
  return url.protocol === "http:" && ["localhost", "127.0.0.1", "[::1]"].includes(url.hostname);
}

export function readSessionCookie(c: Context): string | undefined {
  return plainLoopback(c) ? getCookie(c, COOKIE) : getCookie(c, COOKIE, "host");
}

export function writeSessionCookie(c: Context, token: string): void {
  const options = { httpOnly: true, sameSite: "Lax", path: "/" } as const;
  if (plainLoopback(c)) setCookie(c, COOKIE, token, options);
  else setCookie(c, COOKIE, token, { ...options, secure: true, prefix: "host" });
}

export function clearSessionCookie(c: Context): void {
  if (plainLoopback(c)) deleteCookie(c, COOKIE, { path: "/", httpOnly: true, sameSite: "Lax" });
  else deleteCookie(c, COOKIE, { path: "/", secure: true, prefix: "host", httpOnly: true, sameSite: "Lax" });
}
