// Provider names and their wire formats. The three native providers have their own adapters;
// every OpenAI-compatible provider is a name and a default base URL on the OpenAI adapter.
// A tenant may add more OpenAI-compatible providers by name with their own base URL.
import { anthropicAdapter } from "./anthropic/index.ts";
import { ANTHROPIC_BASE_URL } from "./anthropic/api.ts";
import { googleAdapter } from "./google/index.ts";
import { GOOGLE_BASE_URL } from "./google/api.ts";
import { openaiAdapter } from "./openai/index.ts";
import { OPENAI_BASE_URL } from "./openai/api.ts";
import type { ProviderAdapter, WireFormat } from "./types.ts";

export const ADAPTERS: Record<WireFormat, ProviderAdapter> = {
  openai: openaiAdapter,
  anthropic: anthropicAdapter,
  google: googleAdapter,
};

export type KnownProvider = { format: WireFormat; baseUrl: string };

export const KNOWN_PROVIDERS: Record<string, KnownProvider> = {
  openai: { format: "openai", baseUrl: OPENAI_BASE_URL },
  anthropic: { format: "anthropic", baseUrl: ANTHROPIC_BASE_URL },
  google: { format: "google", baseUrl: GOOGLE_BASE_URL },
  groq: { format: "openai", baseUrl: "https://api.groq.com/openai/v1" },
  mistral: { format: "openai", baseUrl: "https://api.mistral.ai/v1" },
  together: { format: "openai", baseUrl: "https://api.together.xyz/v1" },
  openrouter: { format: "openai", baseUrl: "https://openrouter.ai/api/v1" },
  deepseek: { format: "openai", baseUrl: "https://api.deepseek.com/v1" },
  fireworks: { format: "openai", baseUrl: "https://api.fireworks.ai/inference/v1" },
  xai: { format: "openai", baseUrl: "https://api.x.ai/v1" },
  perplexity: { format: "openai", baseUrl: "https://api.perplexity.ai" },
  cerebras: { format: "openai", baseUrl: "https://api.cerebras.ai/v1" },
};

/** Path segments that are routes of Outlay itself and can never be a provider name: the first
 * segments of the Worker's routes and of the dashboard's pages, and the management API's
 * resources (so /api/v1/providers/{name} never reads as one of them), and "constructor" and
 * "prototype". docs/gateway.md lists them. */
export const RESERVED_NAMES = new Set([
  "v1",
  "api",
  "internal",
  "health",
  "auth",
  "app",
  "static",
  "dashboard",
  "keys",
  "providers",
  "usage",
  "budgets",
  "policies",
  "rate-limits",
  "audit",
  "settings",
  "prices",
  "login",
  "logout",
  "signup",
  "account",
  "org",
  "sso",
  "invite",
  "reset",
  "activity",
  "overview",
  "quickstart",
  "quick-start",
  "members",
  "tokens",
  "mfa",
  // Object.prototype's lower-case members: no lookup by provider name may reach the prototype
  "constructor",
  "prototype",
]);

export const PROVIDER_NAME = /^[a-z][a-z0-9-]{1,31}$/;
