-- The type index without call.admitted (issue 15: rows written per call). call.admitted is most of
-- a trail, one event per proxied call, and its index entry was one of the two D1 rows each call's
-- audit event wrote. Listing it needs no index: it walks the primary key (tenant_id, seq), where
-- call.admitted is dense. Queries for the other types name the index's condition
-- (`type <> 'call.admitted'`) so that SQLite may use it (workers/store/audit.ts, exports.ts).
DROP INDEX audit_events_by_type;
CREATE INDEX audit_events_by_type ON audit_events (tenant_id, type, seq) WHERE type <> 'call.admitted';
