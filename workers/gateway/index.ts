// Gateway routes: each official SDK works with only its base URL changed.
//   /openai/v1/*  and  /v1/*       OpenAI (baseURL http://host/openai/v1 or http://host/v1)
//   /anthropic/v1/*                Anthropic (baseURL http://host/anthropic)
//   /google/*                      Gemini (httpOptions.baseUrl http://host/google)
//   /<name>/v1/*                   an OpenAI-compatible provider by name (groq, mistral, ...)
import { Hono } from "hono";
import { AppError } from "../../shared/errors.ts";
import { newRequestId } from "../../shared/ids.ts";
import { proxyCall } from "./proxy.ts";
import { refusal } from "./relay.ts";
import { ADAPTERS, PROVIDER_NAME, RESERVED_NAMES } from "./providers/registry.ts";

export { checkStoredProvider, describeCheck } from "./provider-check.ts";
export { KNOWN_PROVIDERS, PROVIDER_NAME, RESERVED_NAMES, type KnownProvider } from "./providers/registry.ts";

export const gateway = new Hono<{ Bindings: Env }>();

/** Anything the gateway did not expect still answers in the provider's own error shape. */
gateway.onError((error, c) => {
  const first = c.req.path.split("/")[1];
  const adapter = first === "anthropic" ? ADAPTERS.anthropic : first === "google" ? ADAPTERS.google : ADAPTERS.openai;
  if (error instanceof AppError) return refusal(adapter, error, newRequestId());
  console.error("gateway: unhandled error", error.name);
  return refusal(adapter, new AppError("internal_error", "Something went wrong on our side."), newRequestId());
});

gateway.all("/openai/v1/*", (c) => proxyCall(c, { adapter: ADAPTERS.openai, provider: "openai", prefixSegments: 2 }));
gateway.all("/v1/*", (c) => proxyCall(c, { adapter: ADAPTERS.openai, provider: "openai", prefixSegments: 1 }));
gateway.all("/anthropic/v1/*", (c) =>
  proxyCall(c, { adapter: ADAPTERS.anthropic, provider: "anthropic", prefixSegments: 2 }),
);
gateway.all("/google/*", (c) => proxyCall(c, { adapter: ADAPTERS.google, provider: "google", prefixSegments: 1 }));
gateway.all("/:provider/v1/*", (c) => {
  const provider = c.req.param("provider");
  if (!PROVIDER_NAME.test(provider) || RESERVED_NAMES.has(provider)) {
    const error = new AppError("unknown_provider", `There is no provider route /${provider.slice(0, 40)}/v1.`);
    return refusal(ADAPTERS.openai, error, newRequestId());
  }
  return proxyCall(c, { adapter: ADAPTERS.openai, provider, prefixSegments: 2 });
});
