// Provider credentials: PUT /api/v1/providers/{provider} { api_key, base_url? }, GET (masked),
// GET /api/v1/providers, DELETE. The key is sealed with AES-256-GCM (bound to tenant and
// provider) before it reaches the ledger; it is never returned, only a hint of its ends.
// The dashboard's /providers page stores credentials through the same service
// (workers/services/providers.ts).
import { Hono } from "hono";
import { z } from "zod";
import { AppError, invalid } from "../../shared/errors.ts";
import { MAX_BASE_URL_LENGTH } from "../../shared/upstream-url.ts";
import { ledgerFor, type ProviderRecord } from "../ledger/index.ts";
import {
  effectiveBaseUrl,
  MAX_PROVIDER_KEY_LENGTH,
  providerName,
  providerProblems,
  storeProvider,
} from "../services/index.ts";
import type { ApiEnv } from "./auth.ts";
import { apiError, jsonBody } from "./errors.ts";

const SetProvider = z.strictObject({
  api_key: z.string().min(1).max(MAX_PROVIDER_KEY_LENGTH),
  base_url: z.string().max(MAX_BASE_URL_LENGTH).optional(),
});

function providerView(p: ProviderRecord) {
  return {
    provider: p.name,
    format: p.format,
    base_url: effectiveBaseUrl(p),
    base_url_override: p.baseUrl !== null,
    api_key: p.keyHint,
    updated_at: new Date(p.updatedAt).toISOString(),
  };
}

export const providers = new Hono<ApiEnv>();

providers.get("/", async (c) => {
  const list = await ledgerFor(c.env, c.get("tenantId")).listProviders();
  return c.json({ providers: list.map(providerView) });
});

const noCredential = (name: string) =>
  new AppError("not_found", `No credential is stored for provider "${name.slice(0, 40)}".`);

// A name that could never be stored answers 404 before the ledger is asked.
providers.get("/:provider", async (c) => {
  const name = c.req.param("provider");
  if (providerName(name)) return apiError(c, noCredential(name));
  const list = await ledgerFor(c.env, c.get("tenantId")).listProviders();
  const found = list.find((p) => p.name === name);
  if (!found) return apiError(c, noCredential(name));
  return c.json(providerView(found));
});

providers.put("/:provider", async (c) => {
  const name = c.req.param("provider");
  const badName = providerName(name);
  if (badName) return apiError(c, badName);
  const parsed = SetProvider.safeParse(await jsonBody(c));
  if (!parsed.success) return apiError(c, invalid(parsed.error.issues));
  const input = { name, apiKey: parsed.data.api_key, baseUrl: parsed.data.base_url ?? null };
  const [problem] = providerProblems(input, c.env);
  if (problem) return apiError(c, problem);
  const record = await storeProvider(c.env, c.get("tenantId"), input, c.get("actor"));
  return c.json(providerView(record));
});

providers.delete("/:provider", async (c) => {
  const tenantId = c.get("tenantId");
  const name = c.req.param("provider");
  if (providerName(name)) return apiError(c, noCredential(name));
  const removed = await ledgerFor(c.env, tenantId).deleteProvider({ tenantId, name, actor: c.get("actor") });
  if (!removed) return apiError(c, noCredential(name));
  return c.body(null, 204);
});
