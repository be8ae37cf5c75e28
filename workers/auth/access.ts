// Access events: one audit event for every dashboard page and management API request whose
// organisation is known — who (a person, an admin token or the operator), the route template
// (`/api/v1/budgets/:id`, never the URL or its query), the method, the answer's status and the
// address it came from. Never a body, a query value, a cookie or a token.
//
// They are recorded after the answer: each request adds its event to a per-isolate batch for its
// organisation, and the request that opened the batch sends it through the organisation's ledger
// (`recordAudit`, the same ordered path as every other event, so each gets a `seq`) from its
// `waitUntil`, ACCESS_BATCH_MS later or as soon as ACCESS_BATCH_MAX events wait. Only plain data
// crosses requests; the ledger stub is made by the request that sends.
import type { Context } from "hono";
import { matchedRoutes } from "hono/route";
import type { AuditActor, AuditDraft } from "../../shared/audit.ts";
import { ledgerFor } from "../ledger/index.ts";
import { sourceOf } from "./web-account.ts";

const ACCESS_BATCH_MS = 200;
const ACCESS_BATCH_MAX = 100;

export type AccessType = "access.api" | "access.dashboard" | "access.operator";

type Batch = { drafts: AuditDraft[] };
const open = new Map<string, Batch>();

/** The template of the route that answered or would have answered (a page or API handler, not
 * the middleware in front of it): `/api/v1/budgets/:id`, `/keys/:id/revoke`, or the catch-all's
 * `/api/v1/*` for an unknown path. */
function routeTemplate(c: Context): string {
  const routes = matchedRoutes(c);
  // A handler takes (c); middleware takes (c, next), whether registered with use() or a method.
  const handler = routes.find((r) => r.handler.length < 2) ?? routes.at(-1);
  return handler?.path ?? "*";
}

/** Call once the answer is final (after `await next()`). */
export function recordAccess<E extends { Bindings: Env }>(
  c: Context<E>,
  access: { type: AccessType; tenantId: string; actor: AuditActor; at: number },
): void {
  const draft: AuditDraft = {
    at: access.at,
    type: access.type,
    actor: access.actor,
    requestId: null,
    subject: null,
    data: { method: c.req.method, route: routeTemplate(c), status: c.res.status, source: sourceOf(c) },
  };
  const batch = open.get(access.tenantId);
  if (batch) {
    batch.drafts.push(draft);
    if (batch.drafts.length >= ACCESS_BATCH_MAX) c.executionCtx.waitUntil(send(c.env, access.tenantId, batch));
    return;
  }
  const fresh: Batch = { drafts: [draft] };
  open.set(access.tenantId, fresh);
  c.executionCtx.waitUntil(
    new Promise((resolve) => setTimeout(resolve, ACCESS_BATCH_MS)).then(() => send(c.env, access.tenantId, fresh)),
  );
}

/** Sends a batch once: the first of its timer and its size limit to come closes it. */
async function send(env: Env, tenantId: string, batch: Batch): Promise<void> {
  if (open.get(tenantId) !== batch) return;
  open.delete(tenantId);
  for (let attempt = 1; ; attempt++) {
    try {
      await ledgerFor(env, tenantId).recordAudit({ tenantId, drafts: batch.drafts });
      return;
    } catch (error) {
      // The ledger could not be reached (a fresh stub is made for the second try). The pages
      // were served; say how many events were lost.
      if (attempt < 2) continue;
      console.error("access events not recorded", batch.drafts.length, error instanceof Error ? error.name : "unknown");
      return;
    }
  }
}
