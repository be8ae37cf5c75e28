// D1 (SQLite) details the account stores share and nobody outside the store sees: SQL fragments
// and the reading of SQLite's error messages. Not exported by index.ts.

/** SQL true when person `user` has an open membership outside organisation `tenant` (both SQL
 * expressions: a column or a parameter). */
export function elsewhereSql(user: string, tenant: string): string {
  return `EXISTS (SELECT 1 FROM memberships o JOIN tenants ot ON ot.id = o.tenant_id
    WHERE o.user_id = ${user} AND o.tenant_id <> ${tenant} AND ot.closed_at IS NULL)`;
}

/** Whether D1 refused a write for a UNIQUE constraint (on `column`, e.g. "users.email", or any). */
export function uniqueViolation(error: unknown, column?: string): boolean {
  if (!(error instanceof Error)) return false;
  const message = error.message;
  return column ? message.includes(`UNIQUE constraint failed: ${column}`) : /UNIQUE constraint failed/.test(message);
}
