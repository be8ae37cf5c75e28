// /providers: provider credentials (masked once saved), base URL overrides, OpenAI-compatible providers by name, test connection.
import { Hono } from "hono";
import type { WebEnv } from "../../workers/auth/web-auth.ts";

export const providersPages = new Hono<WebEnv>();
