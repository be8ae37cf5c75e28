// Management JSON API under /api/v1, authorised by an admin token, every route tenant-scoped.
import { Hono } from "hono";
import { audit } from "./audit.ts";
import { adminAuth, rolePermission, type ApiEnv } from "./auth.ts";
import { keys } from "./keys.ts";
import { providers } from "./providers.ts";
import { budgets, policies, rateLimits } from "./rules.ts";
import { settings } from "./settings.ts";
import { usage } from "./usage.ts";

export const api = new Hono<ApiEnv>();
api.use("*", adminAuth, rolePermission);
api.route("/keys", keys);
api.route("/providers", providers);
api.route("/usage", usage);
api.route("/budgets", budgets);
api.route("/policies", policies);
api.route("/rate-limits", rateLimits);
api.route("/audit", audit);
api.route("/", settings);
