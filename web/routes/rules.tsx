// /budgets, /policies, /rate-limits: lists with the current window (spent, held, remaining), create and edit forms with errors beside the fields, delete.
import { Hono } from "hono";
import type { WebEnv } from "../../workers/auth/web-auth.ts";

export const rulesPages = new Hono<WebEnv>();
