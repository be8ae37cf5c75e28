// /activity: refusals and policy decisions from the audit events stored so far, filterable.
import { Hono } from "hono";
import type { WebEnv } from "../../workers/auth/web-auth.ts";

export const activityPages = new Hono<WebEnv>();
