// The audit archive's front door: the AuditArchiver Durable Object (one per tenant) that seals
// audit events into signed segments in R2, its stub, and the reads the API serves (segments,
// checkpoints, the public keys). workers/archive/README.md draws how it works.
export { AuditArchiver } from "./archiver.ts";
export { latestCheckpoint, listSegments, publicKeys, readSegment } from "./reads.ts";
export { purgeArchive } from "./purge.ts";
export { archiverFor } from "./stub.ts";
