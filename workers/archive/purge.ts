// The purge of a closed organisation (workers/auth/purge.ts) deletes its archive too: the
// archiver's storage and every object under the tenant's prefix, a listing page at a time.
import { tenantPrefix } from "./layout.ts";
import { archiverFor } from "./stub.ts";

export async function purgeArchive(env: Env, tenantId: string): Promise<void> {
  await archiverFor(env, tenantId).purge();
  const prefix = tenantPrefix(tenantId);
  for (;;) {
    const listed = await env.AUDIT_ARCHIVE.list({ prefix, limit: 1000 });
    if (listed.objects.length === 0) return;
    await env.AUDIT_ARCHIVE.delete(listed.objects.map((o) => o.key));
    if (!listed.truncated) return;
  }
}
