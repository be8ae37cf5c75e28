import type { ProviderAdapter } from "../types.ts";
import { anthropicError, readAnthropicKey } from "./api.ts";
import { anthropicStreamMeter, meterAnthropicJson } from "./meter.ts";
import { shapeAnthropic, withAnthropicMaxTokens } from "./request.ts";

export const anthropicAdapter: ProviderAdapter = {
  format: "anthropic",
  readKey: (headers) => readAnthropicKey(headers),
  errorBody: anthropicError,
  shape: shapeAnthropic,
  withMaxOutputTokens: withAnthropicMaxTokens,
  authHeaders: (credential) => ({ "x-api-key": credential }),
  meterJson: meterAnthropicJson,
  streamMeter: () => anthropicStreamMeter(),
};
