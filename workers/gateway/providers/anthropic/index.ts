import type { ProviderAdapter } from "../types.ts";
import { joinUrl } from "../openai/api.ts";
import { anthropicError, readAnthropicKey } from "./api.ts";
import { anthropicStreamMeter, meterAnthropicJson } from "./meter.ts";
import { shapeAnthropic, withAnthropicMaxTokens } from "./request.ts";

export const anthropicAdapter: ProviderAdapter = {
  format: "anthropic",
  readKey: (headers) => readAnthropicKey(headers),
  keyHeaders: ["x-api-key", "authorization"],
  errorBody: anthropicError,
  shape: shapeAnthropic,
  withMaxOutputTokens: withAnthropicMaxTokens,
  upstreamUrl: joinUrl,
  authHeaders: (credential) => ({ "x-api-key": credential }),
  meterJson: meterAnthropicJson,
  streamMeter: () => anthropicStreamMeter(),
};
