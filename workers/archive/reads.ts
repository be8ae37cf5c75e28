// What the API reads of a tenant's archive: the sealed segments (listed from the archiver's
// index, each with the checkpoint stored beside it), a segment's stored bytes, the latest
// checkpoint, and the public halves of the signing keys. Object names are built from the tenant
// id and numbers (layout.ts), never from a raw path.
import { AppError } from "../../shared/errors.ts";
import { loadSigningKeys, segmentName, type AuditVerifierKey } from "../../shared/tlog.ts";
import { checkpointKey, namedSegmentKey } from "./layout.ts";
import { archiverFor } from "./stub.ts";

export type SegmentListing = {
  name: string;
  firstSeq: number;
  lastSeq: number;
  events: number;
  bytes: number;
  /** the signed checkpoint at tree size lastSeq, as stored (null if its object is missing) */
  checkpoint: string | null;
};

async function storedText(env: Env, key: string): Promise<string | null> {
  const object = await env.AUDIT_ARCHIVE.get(key);
  return object ? object.text() : null;
}

/** Segments whose last seq is at least `fromSeq`, oldest first, and where the next page starts. */
export async function listSegments(
  env: Env,
  tenantId: string,
  page: { fromSeq: number; limit: number },
): Promise<{ data: SegmentListing[]; nextFromSeq: number | null }> {
  const entries = await archiverFor(env, tenantId).segments({ fromSeq: page.fromSeq, limit: page.limit + 1 });
  const shown = entries.slice(0, page.limit);
  const data = await Promise.all(
    shown.map(async (e) => ({
      name: segmentName(e.firstSeq, e.lastSeq),
      firstSeq: e.firstSeq,
      lastSeq: e.lastSeq,
      events: e.events,
      bytes: e.bytes,
      checkpoint: await storedText(env, checkpointKey(tenantId, e.lastSeq)),
    })),
  );
  const last = shown.at(-1);
  return { data, nextFromSeq: entries.length > page.limit && last ? last.lastSeq + 1 : null };
}

/** A segment's stored object, or a not_found AppError for a name that is not one or is absent. */
export async function readSegment(env: Env, tenantId: string, name: string): Promise<R2ObjectBody | AppError> {
  const missing = new AppError("not_found", "No such audit segment.");
  const key = namedSegmentKey(tenantId, name);
  if (!key) return missing;
  return (await env.AUDIT_ARCHIVE.get(key)) ?? missing;
}

/** The checkpoint of the archive's current tree size as stored, or null before the first seal. */
export async function latestCheckpoint(env: Env, tenantId: string): Promise<string | null> {
  const { treeSize } = await archiverFor(env, tenantId).status();
  return treeSize === 0 ? null : storedText(env, checkpointKey(tenantId, treeSize));
}

/** The public halves of every configured signing key (the first signs; older ones stay listed). */
export async function publicKeys(env: Env): Promise<AuditVerifierKey[] | AppError> {
  const keys = await loadSigningKeys(env.AUDIT_SIGNING_KEYS ?? "");
  if (keys instanceof AppError) return keys;
  return keys.map(({ version, name, keyId, publicKey, vkey }) => ({ version, name, keyId, publicKey, vkey }));
}
