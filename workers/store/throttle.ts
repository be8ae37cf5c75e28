// Sign-in throttling counts (`sign_in_failures`): one row per (scope, subject), where scope is
// 'account' (subject: a hash of the email), 'device' (a hash of the device cookie), 'address'
// (the source address) or 'signup' (accounts made from an address). The delays and windows are
// the auth component's (workers/auth/throttle.ts); this module only counts.

export type FailureScope = "account" | "device" | "address" | "signup";

/** A row of `sign_in_failures`. */
export type SignInFailureRow = {
  scope: FailureScope;
  subject: string;
  failures: number;
  first_at: number;
  last_at: number;
};

export type FailureCount = Pick<SignInFailureRow, "failures" | "first_at" | "last_at">;

export function findFailures(db: D1Database, scope: FailureScope, subject: string): Promise<FailureCount | null> {
  return db
    .prepare("SELECT failures, first_at, last_at FROM sign_in_failures WHERE scope = ? AND subject = ?")
    .bind(scope, subject)
    .first<FailureCount>();
}

/** The counts of these accounts (those that have one), read 50 subjects a statement. */
export async function listAccountFailures(
  db: D1Database,
  subjects: readonly string[],
): Promise<(FailureCount & { subject: string })[]> {
  const rows: (FailureCount & { subject: string })[] = [];
  for (let i = 0; i < subjects.length; i += 50) {
    const chunk = subjects.slice(i, i + 50);
    const { results } = await db
      .prepare(
        `SELECT subject, failures, first_at, last_at FROM sign_in_failures WHERE scope = 'account'
       AND subject IN (${chunk.map(() => "?").join(", ")})`,
      )
      .bind(...chunk)
      .all<FailureCount & { subject: string }>();
    rows.push(...results);
  }
  return rows;
}

/** One more failure; the count starts again after `?4` ms without one. */
const BUMP = `INSERT INTO sign_in_failures (scope, subject, failures, first_at, last_at) VALUES (?1, ?2, 1, ?3, ?3)
  ON CONFLICT (scope, subject) DO UPDATE SET
    failures = CASE WHEN ?3 - last_at >= ?4 THEN 1 ELSE failures + 1 END,
    first_at = CASE WHEN ?3 - last_at >= ?4 THEN ?3 ELSE first_at END,
    last_at = ?3
  RETURNING failures`;

export type FailureBump = { scope: FailureScope; subject: string; windowMs: number };

/** Counts one failure against each of these (in one batch); each count starts again after its
 * window without a failure. */
export async function bumpFailures(db: D1Database, bumps: readonly FailureBump[], now: number): Promise<void> {
  await db.batch(bumps.map((b) => db.prepare(BUMP).bind(b.scope, b.subject, now, b.windowMs)));
}

/** Counts an account made from this address (the count starts again `windowMs` after its first);
 * the count. */
export async function countSignUp(db: D1Database, address: string, now: number, windowMs: number): Promise<number> {
  const counted = await db
    .prepare(
      `INSERT INTO sign_in_failures (scope, subject, failures, first_at, last_at) VALUES ('signup', ?1, 1, ?2, ?2)
     ON CONFLICT (scope, subject) DO UPDATE SET
       failures = CASE WHEN ?2 - first_at >= ?3 THEN 1 ELSE failures + 1 END,
       first_at = CASE WHEN ?2 - first_at >= ?3 THEN ?2 ELSE first_at END,
       last_at = ?2
     RETURNING failures`,
    )
    .bind(address, now, windowMs)
    .first<{ failures: number }>();
  return counted?.failures ?? 0;
}

/** Forgets an account's failures. */
export async function deleteAccountFailures(db: D1Database, subject: string): Promise<void> {
  await db.prepare("DELETE FROM sign_in_failures WHERE scope = 'account' AND subject = ?").bind(subject).run();
}

/** Forgets the failures of one account or device. */
export async function deleteFailures(db: D1Database, scope: FailureScope, subject: string): Promise<void> {
  await db.prepare("DELETE FROM sign_in_failures WHERE scope = ? AND subject = ?").bind(scope, subject).run();
}

/** Forgets accounts' and devices' failures last counted at `accountsBefore` or earlier, and
 * addresses' (and sign-up counts) at `addressesBefore` or earlier. */
export async function deleteStaleFailures(db: D1Database, accountsBefore: number, addressesBefore: number) {
  await db.batch([
    db
      .prepare("DELETE FROM sign_in_failures WHERE scope IN ('account', 'device') AND last_at <= ?")
      .bind(accountsBefore),
    db
      .prepare("DELETE FROM sign_in_failures WHERE scope IN ('address', 'signup') AND last_at <= ?")
      .bind(addressesBefore),
  ]);
}
