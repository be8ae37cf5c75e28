// Provider names as the management API and the dashboard accept them: the gateway router's rule
// (PROVIDER_NAME, not a RESERVED_NAMES entry) for a name, and globs of such names in rules.
// Known providers are looked up as own keys only, so "constructor" or "__proto__" is never one.
import { z } from "zod";
import { AppError } from "../../shared/errors.ts";
import { KNOWN_PROVIDERS, type KnownProvider, PROVIDER_NAME, RESERVED_NAMES } from "../gateway/index.ts";

export const PROVIDER_NAME_RULE = "A provider name is 2-32 characters of a-z, 0-9 and '-', starting with a letter";

export function isProviderName(name: string): boolean {
  return PROVIDER_NAME.test(name) && !RESERVED_NAMES.has(name);
}

/** The built-in provider of this name, or null (never an Object.prototype member). */
export function knownProvider(name: string): KnownProvider | null {
  return Object.hasOwn(KNOWN_PROVIDERS, name) ? (KNOWN_PROVIDERS[name] ?? null) : null;
}

export function providerNameProblem(name: string, field = "provider"): AppError | null {
  if (isProviderName(name)) return null;
  const reserved = RESERVED_NAMES.has(name) ? ` ("${name}" is reserved for Outlay's own routes)` : "";
  return new AppError("bad_request", `${PROVIDER_NAME_RULE}${reserved}.`, field);
}

/** A glob over provider names: `*` and `?` among a-z, 0-9 and '-'; without a wildcard, a
 * provider name. Anything else could never match a call's provider. */
export function isProviderGlob(glob: string): boolean {
  if (!/^[a-z0-9*?-]+$/.test(glob)) return false;
  return /[*?]/.test(glob) || isProviderName(glob);
}

export const ProviderName = z
  .string()
  .refine(isProviderName, "must be 2-32 characters of a-z, 0-9 and '-', starting with a letter, not a reserved name");

/** The length bound is the other globs' (200), checked first so its message says so. */
export const ProviderGlob = z
  .string()
  .min(1)
  .max(200)
  .refine(isProviderGlob, "must be a provider name or a glob of one (a-z, 0-9, '-', '*', '?'), not a reserved name");
