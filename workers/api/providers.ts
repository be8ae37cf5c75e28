// Provider credentials: PUT /api/v1/providers/{provider} { api_key, base_url? }, GET (masked),
// GET /api/v1/providers, DELETE. The key is sealed with AES-256-GCM (bound to tenant and
// provider) before it reaches the ledger; it is never returned, only a hint of its ends.
// The dashboard's /providers page stores credentials through the same checks and sealing
// (providerProblems, storeProvider).
import { Hono } from "hono";
import { z } from "zod";
import type { AuditActor } from "../../shared/audit.ts";
import { dataKeyring, seal } from "../../shared/crypto.ts";
import { AppError } from "../../shared/errors.ts";
import { checkBaseUrl, MAX_BASE_URL_LENGTH } from "../../shared/upstream-url.ts";
import type { ProviderRecord } from "../ledger/types.ts";
import { ledgerFor, type ApiEnv } from "./auth.ts";
import { apiError, invalid, jsonBody } from "./errors.ts";
import { knownProvider, providerNameProblem } from "./provider-names.ts";

export const MAX_PROVIDER_KEY_LENGTH = 4096;

const SetProvider = z.strictObject({
  api_key: z.string().min(1).max(MAX_PROVIDER_KEY_LENGTH),
  base_url: z.string().max(MAX_BASE_URL_LENGTH).optional(),
});

/** The shared base URL check (shared/upstream-url.ts), with the deployment's loopback flag. */
export function baseUrlProblem(value: string, env: Pick<Env, "ALLOW_LOOPBACK_UPSTREAMS">): AppError | null {
  return checkBaseUrl(value, { allowLoopback: env.ALLOW_LOOPBACK_UPSTREAMS === "true" });
}

export function keyHint(key: string): string {
  return key.length >= 16 ? `${key.slice(0, 3)}…${key.slice(-4)}` : "…";
}

/** The base URL calls go to: the stored override, else the known provider's default. */
export function effectiveBaseUrl(p: { name: string; baseUrl: string | null }): string | null {
  return p.baseUrl ?? knownProvider(p.name)?.baseUrl ?? null;
}

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

/** The gateway router's rule for a provider name (known providers follow it too). */
export function providerName(name: string): AppError | null {
  return providerNameProblem(name);
}

export type ProviderInput = { name: string; apiKey: string; baseUrl: string | null };

/** Every problem of a credential to store, each naming its field (provider, api_key, base_url),
 * in that order: the API answers the first, the dashboard shows each beside its field. */
export function providerProblems(input: ProviderInput, env: Pick<Env, "ALLOW_LOOPBACK_UPSTREAMS">): AppError[] {
  const problems: AppError[] = [];
  const badName = providerName(input.name);
  if (badName) problems.push(badName);
  if (input.apiKey.length === 0) problems.push(new AppError("bad_request", "The API key is empty.", "api_key"));
  if (input.apiKey.length > MAX_PROVIDER_KEY_LENGTH) {
    problems.push(
      new AppError("bad_request", `The API key is longer than ${MAX_PROVIDER_KEY_LENGTH} characters.`, "api_key"),
    );
  }
  if (input.baseUrl) {
    const problem = baseUrlProblem(input.baseUrl, env);
    if (problem) problems.push(problem);
  } else if (!badName && !knownProvider(input.name)) {
    problems.push(new AppError("bad_request", "A base URL is required for an OpenAI-compatible provider.", "base_url"));
  }
  return problems;
}

/** Seals the key (bound to tenant and provider) and stores the credential through the tenant's
 * ledger, which audits "provider.set" with `actor`. The input must have no providerProblems. */
export async function storeProvider(
  env: Env,
  tenantId: string,
  input: ProviderInput,
  actor: AuditActor,
): Promise<ProviderRecord> {
  const sealed = await seal(dataKeyring(env.DATA_KEYS), input.apiKey, `${tenantId}/${input.name}`);
  return ledgerFor(env, tenantId).setProvider(
    tenantId,
    {
      name: input.name,
      format: knownProvider(input.name)?.format ?? "openai",
      baseUrl: input.baseUrl ? input.baseUrl.replace(/\/+$/, "") : null,
      sealedCredential: sealed,
      keyHint: keyHint(input.apiKey),
    },
    actor,
  );
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
  const removed = await ledgerFor(c.env, tenantId).deleteProvider(tenantId, name, c.get("actor"));
  if (!removed) return apiError(c, noCredential(name));
  return c.body(null, 204);
});
