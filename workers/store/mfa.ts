// Second factors: a person's TOTP columns in `users` and their `recovery_codes` (stored as
// HMAC-SHA-256(pepper) hashes). Checking a code is the auth component's; spending a TOTP step or a
// recovery code is one conditional update here, so a code is accepted once however many race.

/** A row of `recovery_codes`. */
export type RecoveryCodeRow = { user_id: string; code_hash: string; created_at: number; used_at: number | null };

/** Starts (or restarts) enrolment with a sealed secret, unless MFA is on already. */
export async function setPendingTotp(db: D1Database, userId: string, sealedSecret: string): Promise<void> {
  await db
    .prepare("UPDATE users SET totp_pending = ? WHERE id = ? AND mfa_enabled_at IS NULL")
    .bind(sealedSecret, userId)
    .run();
}

/** Turns MFA on with the pending secret the first code was checked against; false when that
 * secret is no longer the pending one (or MFA is on already). */
export async function confirmTotp(
  db: D1Database,
  userId: string,
  pending: string,
  step: number,
  now: number,
): Promise<boolean> {
  const confirmed = await db
    .prepare(
      `UPDATE users SET totp_secret = totp_pending, totp_pending = NULL, totp_last_step = ?, mfa_enabled_at = ?
     WHERE id = ? AND totp_pending = ? AND mfa_enabled_at IS NULL`,
    )
    .bind(step, now, userId, pending)
    .run();
  return confirmed.meta.changes === 1;
}

/** Turns MFA off: the secret and every recovery code go, in one batch. */
export async function removeMfa(db: D1Database, userId: string): Promise<void> {
  await db.batch([
    db
      .prepare(
        "UPDATE users SET totp_secret = NULL, totp_pending = NULL, totp_last_step = NULL, mfa_enabled_at = NULL WHERE id = ?",
      )
      .bind(userId),
    db.prepare("DELETE FROM recovery_codes WHERE user_id = ?").bind(userId),
  ]);
}

/** Records a TOTP step as used; false when this step (or a later one) was used already. */
export async function takeTotpStep(db: D1Database, userId: string, step: number): Promise<boolean> {
  const taken = await db
    .prepare("UPDATE users SET totp_last_step = ?1 WHERE id = ?2 AND (totp_last_step IS NULL OR totp_last_step < ?1)")
    .bind(step, userId)
    .run();
  return taken.meta.changes === 1;
}

export async function countUnusedRecoveryCodes(db: D1Database, userId: string): Promise<number> {
  const left = await db
    .prepare("SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = ? AND used_at IS NULL")
    .bind(userId)
    .first<{ n: number }>();
  return left?.n ?? 0;
}

/** Replaces all the person's recovery codes with these hashes, in one batch. */
export async function replaceRecoveryCodes(
  db: D1Database,
  userId: string,
  hashes: readonly string[],
  now: number,
): Promise<void> {
  await db.batch([
    db.prepare("DELETE FROM recovery_codes WHERE user_id = ?").bind(userId),
    ...hashes.map((hash) =>
      db
        .prepare("INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES (?, ?, ?)")
        .bind(userId, hash, now),
    ),
  ]);
}

/** Spends an unused recovery code; false when there is no such unused code. */
export async function spendRecoveryCode(db: D1Database, userId: string, hash: string, now: number): Promise<boolean> {
  const spent = await db
    .prepare("UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL")
    .bind(now, userId, hash)
    .run();
  return spent.meta.changes === 1;
}
