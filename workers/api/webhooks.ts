// Webhook endpoints of the token's organisation (docs/webhooks.md): POST/GET /api/v1/webhooks,
// GET/PATCH/DELETE /api/v1/webhooks/{id}, POST …/{id}/rotate-secret, …/{id}/test,
// GET …/{id}/deliveries, POST …/{id}/recover and …/{id}/replay. The operations live in
// workers/webhooks/; every id is looked up within the token's organisation only.
import { Hono, type Context } from "hono";
import { AppError } from "../../shared/errors.ts";
import {
  createWebhook,
  deleteWebhook,
  getWebhook,
  listDeliveries,
  listWebhooks,
  recoverWebhook,
  replayWebhook,
  rotateWebhookSecret,
  sendTestMessage,
  updateWebhook,
  type WebhookCaller,
} from "../webhooks/index.ts";
import type { ApiEnv } from "./auth.ts";
import { apiError, jsonBody } from "./errors.ts";

export const webhooks = new Hono<ApiEnv>();

function caller(c: Context<ApiEnv>): WebhookCaller {
  return { env: c.env, tenantId: c.var.tenantId, actor: c.var.actor };
}

/** A JSON body, or none at all (`{}`) for the routes whose body is optional. */
async function optionalBody(c: Context<ApiEnv>): Promise<unknown> {
  const length = c.req.header("content-length");
  if (!c.req.header("content-type") && (length === undefined || length === "0")) return {};
  return jsonBody(c);
}

function answer(c: Context<ApiEnv>, result: object | AppError, status: 200 | 202 = 200): Response {
  return result instanceof AppError ? apiError(c, result) : c.json(result, status);
}

webhooks.post("/", async (c) => {
  const created = await createWebhook(caller(c), await jsonBody(c));
  if (created instanceof AppError) return apiError(c, created);
  return c.json({ ...created.endpoint, secret: created.secret }, 201);
});

webhooks.get("/", async (c) => c.json({ data: await listWebhooks(caller(c)) }));

webhooks.get("/:id", async (c) => answer(c, await getWebhook(caller(c), c.req.param("id"))));

webhooks.patch("/:id", async (c) => answer(c, await updateWebhook(caller(c), c.req.param("id"), await jsonBody(c))));

webhooks.delete("/:id", async (c) => {
  const problem = await deleteWebhook(caller(c), c.req.param("id"));
  return problem ? apiError(c, problem) : c.body(null, 204);
});

webhooks.post("/:id/rotate-secret", async (c) => {
  const rotated = await rotateWebhookSecret(caller(c), c.req.param("id"), await optionalBody(c));
  if (rotated instanceof AppError) return apiError(c, rotated);
  return c.json({ ...rotated.endpoint, secret: rotated.secret });
});

webhooks.post("/:id/test", async (c) => answer(c, await sendTestMessage(caller(c), c.req.param("id")), 202));

webhooks.get("/:id/deliveries", async (c) =>
  answer(
    c,
    await listDeliveries(caller(c), c.req.param("id"), { before: c.req.query("before"), limit: c.req.query("limit") }),
  ),
);

webhooks.post("/:id/recover", async (c) =>
  answer(c, await recoverWebhook(caller(c), c.req.param("id"), await jsonBody(c)), 202),
);

webhooks.post("/:id/replay", async (c) =>
  answer(c, await replayWebhook(caller(c), c.req.param("id"), await jsonBody(c)), 202),
);
