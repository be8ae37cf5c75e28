// Dashboard sessions: opaque tokens of 256 random bits, stored only as HMAC-SHA-256(SESSION_SECRET)
// hashes, so a leaked table cannot be replayed. One hour idle, twelve hours absolute; a session
// waiting for its MFA code lives ten minutes. Rotation replaces the token (and its hash) while
// keeping the session's id, so the list of sessions a person sees stays stable.
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { keyHash } from "../../shared/crypto.ts";
import { base32 } from "../../shared/encoding.ts";
import { newId, randomBytes } from "../../shared/ids.ts";
import {
  deleteSession,
  deleteSessionByHash,
  deleteUserSessions,
  findSessionByHash,
  insertSession,
  listLiveSessions,
  replaceSessionToken,
  type SessionRow,
  type SessionStage,
  touchSession,
} from "../store/index.ts";

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
export type Stage = SessionStage;

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
  await insertSession(env.DB, {
    token_hash: await tokenHash(env, token),
    id: newId(),
    user_id: s.userId,
    tenant_id: s.tenantId,
    stage: s.stage,
    created_at: now,
    last_seen_at: now,
    expires_at: now + lifetime,
    source: s.source,
    agent: s.agent,
  });
  return token;
}

/** The live session a token names, or null (unknown, idle for an hour, past its lifetime). */
export async function findSession(env: Env, token: string | undefined, now = Date.now()): Promise<Session | null> {
  if (!token || token.length !== TOKEN_LENGTH) return null;
  const hash = await tokenHash(env, token);
  const row = await findSessionByHash(env.DB, hash);
  if (!row) return null;
  if (now >= row.expires_at || now - row.last_seen_at >= SESSION_IDLE_MS) {
    await deleteSessionByHash(env.DB, hash);
    return null;
  }
  if (now - row.last_seen_at >= TOUCH_EVERY_MS) {
    await touchSession(env.DB, hash, now);
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
  const rotated = await replaceSessionToken(env.DB, session.tokenHash, {
    token_hash: await tokenHash(env, token),
    stage,
    tenant_id: tenantId,
    last_seen_at: now,
    expires_at: expiresAt,
  });
  if (!rotated) throw new Error("session vanished during rotation");
  return token;
}

export function revokeSession(env: Env, userId: string, id: string): Promise<boolean> {
  return deleteSession(env.DB, userId, id);
}

/** Sign out everywhere (or everywhere else); also used when a password changes. */
export function revokeUserSessions(env: Env, userId: string, exceptId: string | null = null): Promise<number> {
  return deleteUserSessions(env.DB, userId, exceptId);
}

export async function listSessions(env: Env, userId: string, now = Date.now()): Promise<Session[]> {
  return (await listLiveSessions(env.DB, userId, now, now - SESSION_IDLE_MS)).map(fromRow);
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
