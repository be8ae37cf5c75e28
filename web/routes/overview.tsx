// / (the overview): spend today, this week and this month against budgets, a 30-day trend, top models, providers, keys and dimension values, unpriced models, recent refusals.
import { Hono } from "hono";
import type { WebEnv } from "../../workers/auth/web-auth.ts";

export const overviewPages = new Hono<WebEnv>();
