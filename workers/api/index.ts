// Management JSON API under /api/v1, authorised by an admin token, every route tenant-scoped.
import { Hono } from "hono";
import { AppError } from "../../shared/errors.ts";
import { archive } from "./archive.ts";
import { audit } from "./audit.ts";
import { adminAuth, rolePermission, type ApiEnv } from "./auth.ts";
import { apiError } from "./errors.ts";
import { cloud } from "./cloud.ts";
import { auditExport, eventsExport } from "./export.ts";
import { keys } from "./keys.ts";
import { providers } from "./providers.ts";
import { budgets, policies, rateLimits } from "./rules.ts";
import { settings } from "./settings.ts";
import { usage } from "./usage.ts";
import { webhooks } from "./webhooks.ts";

export { auditKeys } from "./archive.ts";
export { apiError } from "./errors.ts";
export { operator } from "./operator.ts";

export const api = new Hono<ApiEnv>();
api.use("*", adminAuth, rolePermission);
api.route("/keys", keys);
api.route("/providers", providers);
api.route("/usage", usage);
api.route("/budgets", budgets);
api.route("/policies", policies);
api.route("/rate-limits", rateLimits);
api.route("/audit/export", auditExport);
api.route("/events/export", eventsExport);
api.route("/audit", archive);
api.route("/audit", audit);
api.route("/webhooks", webhooks);
api.route("/cloud", cloud);
api.route("/", settings);
// Every other /api/v1 path, for every method: the API's own 404 (after the token and role checks
// above, so an unauthenticated caller cannot tell unknown paths from known ones).
api.all("*", (c) =>
  apiError(
    c,
    new AppError("unknown_route", `No management API route for ${c.req.method} ${c.req.path.slice(0, 200)}.`),
  ),
);
