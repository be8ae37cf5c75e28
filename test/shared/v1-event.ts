// The v1 audit event's envelope (docs/audit.md, shared/audit.ts) as a strict zod shape: what the
// catalogue's examples, the exports' NDJSON lines and any other v1 event a test reads must be.
import { z } from "zod";
import { AUDIT_TYPES } from "../../shared/audit.ts";

export const V1Event = z
  .object({
    v: z.literal(1),
    tenantId: z.string().min(1),
    seq: z.number().int().min(1),
    at: z.number().int().min(0),
    type: z.enum(AUDIT_TYPES),
    actor: z.union([
      z.object({ kind: z.enum(["key", "admin", "user"]), id: z.string().min(1) }).strict(),
      z.object({ kind: z.enum(["operator", "system"]) }).strict(),
    ]),
    requestId: z.string().nullable(),
    subject: z.string().nullable(),
    data: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(z.string())])),
  })
  .strict();
