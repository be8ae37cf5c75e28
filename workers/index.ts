// Outlay: one Worker composing the components. Routes per component; queue() dispatch; DO exports.
import { Hono } from "hono";
import { AppError } from "../shared/errors.ts";
import { api, apiError, auditKeys, operator } from "./api/index.ts";
import { runScheduled } from "./auth/index.ts";
import { staticRoutes, web } from "./dashboard/index.ts";
import { gateway } from "./gateway/index.ts";
import { consumeAudit, consumeUsage } from "./ingest/index.ts";
import { consumeWebhooks } from "./webhooks/index.ts";

export { AuditArchiver } from "./archive/index.ts";
import { runCloudJobs } from "./cloud/index.ts";

export { CloudImportWorkflow } from "./cloud/index.ts";
export { TenantLedger } from "./ledger/index.ts";

const app = new Hono<{ Bindings: Env }>();

app.get("/health", (c) => c.json({ ok: true }));
app.route("/api/v1", api);
app.route("/internal/v1", operator);
app.route("/.well-known", auditKeys);
app.route("/static", staticRoutes);
app.route("/", gateway);
app.route("/", web);

app.notFound((c) => apiError(c, new AppError("unknown_route", `No route for ${c.req.method} ${c.req.path}.`)));
app.onError((error, c) => {
  if (error instanceof AppError) return apiError(c, error);
  console.error("unhandled error", error.name, error.message.slice(0, 200));
  return apiError(c, new AppError("internal_error", "Something went wrong on our side."));
});

export default {
  fetch: app.fetch,
  async queue(batch, env) {
    if (batch.queue.startsWith("outlay-usage")) await consumeUsage(batch, env);
    else if (batch.queue.startsWith("outlay-audit")) await consumeAudit(batch, env);
    else if (batch.queue.startsWith("outlay-webhooks")) await consumeWebhooks(batch, env);
  },
  async scheduled(controller, env) {
    await runScheduled(env, controller.scheduledTime);
    await runCloudJobs(env, controller.scheduledTime);
  },
} satisfies ExportedHandler<Env>;
