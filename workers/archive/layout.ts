// Where a tenant's archive lives in the AUDIT_ARCHIVE bucket. Every name is built here from a
// tenant id and numbers (or a segment name that parseSegmentName accepted), never from a raw
// request path, so no request can reach another tenant's prefix.
import { parseSegmentName, segmentName } from "../../shared/tlog.ts";

function prefix(tenantId: string): string {
  return `audit/${tenantId}/`;
}

export function segmentKey(tenantId: string, first: number, last: number): string {
  return `${prefix(tenantId)}segments/${segmentName(first, last)}`;
}

/** The object key of a segment the caller named, or null when the name is not a segment's. */
export function namedSegmentKey(tenantId: string, name: string): string | null {
  const range = parseSegmentName(name);
  return range ? segmentKey(tenantId, range.first, range.last) : null;
}

/** The signed checkpoint at a tree size (sealed with the segment that ends at that seq). */
export function checkpointKey(tenantId: string, size: number): string {
  return `${prefix(tenantId)}checkpoints/${String(size).padStart(20, "0")}`;
}

/** Every object of the tenant (the purge of a closed organisation deletes them). */
export function tenantPrefix(tenantId: string): string {
  return prefix(tenantId);
}
