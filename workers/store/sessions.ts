// Dashboard sessions (`sessions`): global rows keyed by the token's hash (the token itself is
// never stored), with a stable id a person sees in their list. Lifetimes, rotation and cookies
// are the auth component's (workers/auth/sessions.ts).

/** What a session may do: enter its MFA code, enrol TOTP (its organisation requires it), or anything. */
export type SessionStage = "mfa" | "enrol" | "full";

/** A row of `sessions`. */
export type SessionRow = {
  token_hash: string;
  id: string;
  user_id: string;
  tenant_id: string | null;
  stage: SessionStage;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  source: string | null;
  agent: string | null;
};

export async function insertSession(db: D1Database, s: SessionRow): Promise<void> {
  await db
    .prepare(
      `INSERT INTO sessions (token_hash, id, user_id, tenant_id, stage, created_at, last_seen_at, expires_at, source, agent)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(
      s.token_hash,
      s.id,
      s.user_id,
      s.tenant_id,
      s.stage,
      s.created_at,
      s.last_seen_at,
      s.expires_at,
      s.source,
      s.agent,
    )
    .run();
}

export function findSessionByHash(db: D1Database, tokenHash: string): Promise<SessionRow | null> {
  return db.prepare("SELECT * FROM sessions WHERE token_hash = ?").bind(tokenHash).first<SessionRow>();
}

export async function deleteSessionByHash(db: D1Database, tokenHash: string): Promise<void> {
  await db.prepare("DELETE FROM sessions WHERE token_hash = ?").bind(tokenHash).run();
}

export async function touchSession(db: D1Database, tokenHash: string, now: number): Promise<void> {
  await db.prepare("UPDATE sessions SET last_seen_at = ? WHERE token_hash = ?").bind(now, tokenHash).run();
}

/** Gives the session named by `oldHash` a new token hash and these values; false when it is gone. */
export async function replaceSessionToken(
  db: D1Database,
  oldHash: string,
  s: Pick<SessionRow, "token_hash" | "stage" | "tenant_id" | "last_seen_at" | "expires_at">,
): Promise<boolean> {
  const result = await db
    .prepare(
      "UPDATE sessions SET token_hash = ?, stage = ?, tenant_id = ?, last_seen_at = ?, expires_at = ? WHERE token_hash = ?",
    )
    .bind(s.token_hash, s.stage, s.tenant_id, s.last_seen_at, s.expires_at, oldHash)
    .run();
  return result.meta.changes === 1;
}

/** Ends one of the person's sessions; false when they have no session with this id. */
export async function deleteSession(db: D1Database, userId: string, id: string): Promise<boolean> {
  const result = await db.prepare("DELETE FROM sessions WHERE user_id = ? AND id = ?").bind(userId, id).run();
  return result.meta.changes > 0;
}

/** Ends all the person's sessions but `exceptId`; how many. */
export async function deleteUserSessions(db: D1Database, userId: string, exceptId: string | null): Promise<number> {
  const result = await db
    .prepare("DELETE FROM sessions WHERE user_id = ? AND id IS NOT ?")
    .bind(userId, exceptId)
    .run();
  return result.meta.changes;
}

/** Ends the person's sessions in one organisation (their role there changed, or they left). */
export async function deleteOrgSessions(db: D1Database, tenantId: string, userId: string): Promise<void> {
  await db.prepare("DELETE FROM sessions WHERE user_id = ? AND tenant_id = ?").bind(userId, tenantId).run();
}

/** The person's sessions not past `now` and seen after `seenAfter`, most recently seen first. */
export async function listLiveSessions(
  db: D1Database,
  userId: string,
  now: number,
  seenAfter: number,
): Promise<SessionRow[]> {
  const { results } = await db
    .prepare(
      "SELECT * FROM sessions WHERE user_id = ? AND expires_at > ? AND last_seen_at > ? ORDER BY last_seen_at DESC",
    )
    .bind(userId, now, seenAfter)
    .all<SessionRow>();
  return results;
}
