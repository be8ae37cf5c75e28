// Tenant-scoped access to D1. Every tenant-owned table has `tenant_id`; this accessor binds the
// tenant as parameter ?1 of every statement and refuses SQL that does not filter or write by
// `tenant_id = ?1` (or name it in an INSERT), so a query without the tenant cannot be written by
// accident. SQLite has no row-level security: this, and the cross-tenant tests, are what hold it.

const SCOPED = /\btenant_id\s*=\s*\?1\b|\(\s*tenant_id\b/;

export class TenantDb {
  readonly tenantId: string;
  readonly #db: D1Database;

  constructor(db: D1Database, tenantId: string) {
    if (!tenantId) throw new Error("tenant id required");
    this.#db = db;
    this.tenantId = tenantId;
  }

  /** A prepared statement with the tenant bound as ?1; further params are ?2, ?3, ... */
  prepare(sql: string, ...params: unknown[]): D1PreparedStatement {
    if (!SCOPED.test(sql)) throw new Error(`unscoped tenant query: ${sql.slice(0, 80)}`);
    return this.#db.prepare(sql).bind(this.tenantId, ...params);
  }

  async all<T>(sql: string, ...params: unknown[]): Promise<T[]> {
    const result = await this.prepare(sql, ...params).all<T>();
    return result.results;
  }

  first<T>(sql: string, ...params: unknown[]): Promise<T | null> {
    return this.prepare(sql, ...params).first<T>();
  }

  async run(sql: string, ...params: unknown[]): Promise<D1Result> {
    return this.prepare(sql, ...params).run();
  }

  batch(statements: D1PreparedStatement[]): Promise<D1Result[]> {
    return this.#db.batch(statements);
  }
}

export function tenantDb(db: D1Database, tenantId: string): TenantDb {
  return new TenantDb(db, tenantId);
}
