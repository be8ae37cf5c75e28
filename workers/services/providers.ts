// Provider credentials, for the management API and the dashboard alike: the checks a credential
// must pass (name, key, base URL) and storing it sealed with AES-256-GCM (bound to tenant and
// provider) through the tenant's ledger. The key is never returned, only a hint of its ends.
import type { AuditActor } from "../../shared/audit.ts";
import { dataKeyring, seal } from "../../shared/crypto.ts";
import { AppError } from "../../shared/errors.ts";
import { checkBaseUrl } from "../../shared/upstream-url.ts";
import { ledgerFor, type ProviderRecord } from "../ledger/index.ts";
import { knownProvider, providerNameProblem } from "./provider-names.ts";

export const MAX_PROVIDER_KEY_LENGTH = 4096;

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
  return ledgerFor(env, tenantId).setProvider({
    tenantId,
    provider: {
      name: input.name,
      format: knownProvider(input.name)?.format ?? "openai",
      baseUrl: input.baseUrl ? input.baseUrl.replace(/\/+$/, "") : null,
      sealedCredential: sealed,
      keyHint: keyHint(input.apiKey),
    },
    actor,
  });
}
