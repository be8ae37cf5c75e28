import type { AuditArchiver } from "./archiver.ts";

/** The tenant's archiver (the same Durable Object for every call with this tenant id). */
export function archiverFor(env: Env, tenantId: string): DurableObjectStub<AuditArchiver> {
  return env.AUDIT_ARCHIVER.get(env.AUDIT_ARCHIVER.idFromName(tenantId));
}
