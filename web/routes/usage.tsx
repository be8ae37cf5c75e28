// /usage (the usage explorer): a time range, grouping and filters over the hourly rollups; a table, a chart and CSV of what is shown.
import { Hono } from "hono";
import type { WebEnv } from "../../workers/auth/web-auth.ts";

export const usagePages = new Hono<WebEnv>();
