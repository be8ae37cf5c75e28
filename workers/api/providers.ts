// Provider credentials: PUT /api/v1/providers/{provider} { api_key, base_url? }, GET (masked),
// GET /api/v1/providers, DELETE. The key is sealed with AES-256-GCM (bound to tenant and
// provider) before it reaches the ledger; it is never returned, only a hint of its ends.
import { Hono } from "hono";
import { z } from "zod";
import { dataKeyring, seal } from "../../shared/crypto.ts";
import { AppError } from "../../shared/errors.ts";
import { KNOWN_PROVIDERS, PROVIDER_NAME, RESERVED_NAMES } from "../gateway/providers/registry.ts";
import type { ProviderRecord } from "../ledger/types.ts";
import { ledgerFor, type ApiEnv } from "./auth.ts";
import { apiError, invalid, jsonBody } from "./errors.ts";

const SetProvider = z.strictObject({
  api_key: z.string().min(1).max(4096),
  base_url: z.string().max(2048).optional(),
});

const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

export function checkBaseUrl(value: string, allowLoopback: boolean): AppError | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return new AppError("bad_request", "base_url is not a URL.", "base_url");
  }
  if (url.username || url.password || url.search || url.hash) {
    return new AppError("bad_request", "base_url must not carry credentials, a query or a fragment.", "base_url");
  }
  if (url.protocol === "https:") return null;
  if (url.protocol === "http:" && allowLoopback && LOOPBACK.has(url.hostname)) return null;
  return new AppError("bad_request", "base_url must use https.", "base_url");
}

export function keyHint(key: string): string {
  return key.length >= 16 ? `${key.slice(0, 3)}…${key.slice(-4)}` : "…";
}

function providerView(p: ProviderRecord) {
  return {
    provider: p.name,
    format: p.format,
    base_url: p.baseUrl ?? KNOWN_PROVIDERS[p.name]?.baseUrl ?? null,
    base_url_override: p.baseUrl !== null,
    api_key: p.keyHint,
    updated_at: new Date(p.updatedAt).toISOString(),
  };
}

function providerName(name: string): AppError | null {
  if (KNOWN_PROVIDERS[name]) return null;
  if (!PROVIDER_NAME.test(name) || RESERVED_NAMES.has(name)) {
    return new AppError(
      "bad_request",
      "A provider name is 2-32 characters of a-z, 0-9 and '-', starting with a letter.",
      "provider",
    );
  }
  return null;
}

export const providers = new Hono<ApiEnv>();

providers.get("/", async (c) => {
  const list = await ledgerFor(c.env, c.get("tenantId")).listProviders();
  return c.json({ providers: list.map(providerView) });
});

providers.get("/:provider", async (c) => {
  const name = c.req.param("provider");
  const list = await ledgerFor(c.env, c.get("tenantId")).listProviders();
  const found = list.find((p) => p.name === name);
  if (!found)
    return apiError(c, new AppError("not_found", `No credential is stored for provider "${name.slice(0, 40)}".`));
  return c.json(providerView(found));
});

providers.put("/:provider", async (c) => {
  const name = c.req.param("provider");
  const badName = providerName(name);
  if (badName) return apiError(c, badName);
  const parsed = SetProvider.safeParse(await jsonBody(c));
  if (!parsed.success) return apiError(c, invalid(parsed.error.issues));
  const known = KNOWN_PROVIDERS[name];
  const baseUrl = parsed.data.base_url ?? null;
  if (!known && !baseUrl) {
    return apiError(
      c,
      new AppError("bad_request", "base_url is required for an OpenAI-compatible provider.", "base_url"),
    );
  }
  if (baseUrl) {
    const problem = checkBaseUrl(baseUrl, c.env.ALLOW_LOOPBACK_UPSTREAMS === "true");
    if (problem) return apiError(c, problem);
  }
  const tenantId = c.get("tenantId");
  const sealed = await seal(dataKeyring(c.env.DATA_KEYS), parsed.data.api_key, `${tenantId}/${name}`);
  const record = await ledgerFor(c.env, tenantId).setProvider(
    tenantId,
    {
      name,
      format: known?.format ?? "openai",
      baseUrl: baseUrl ? baseUrl.replace(/\/+$/, "") : null,
      sealedCredential: sealed,
      keyHint: keyHint(parsed.data.api_key),
    },
    c.get("actor"),
  );
  return c.json(providerView(record));
});

providers.delete("/:provider", async (c) => {
  const tenantId = c.get("tenantId");
  const removed = await ledgerFor(c.env, tenantId).deleteProvider(tenantId, c.req.param("provider"), c.get("actor"));
  if (!removed) return apiError(c, new AppError("not_found", "No credential is stored for that provider."));
  return c.body(null, 204);
});
