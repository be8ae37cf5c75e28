import type { ProviderAdapter } from "../types.ts";
import { joinUrl, openaiError, readBearer } from "./api.ts";
import { meterOpenAiJson, openaiStreamMeter } from "./meter.ts";
import { shapeOpenAi, withOpenAiMaxTokens } from "./request.ts";

export const openaiAdapter: ProviderAdapter = {
  format: "openai",
  readKey: (headers) => readBearer(headers),
  keyHeaders: ["authorization"],
  errorBody: openaiError,
  shape: shapeOpenAi,
  withMaxOutputTokens: withOpenAiMaxTokens,
  upstreamUrl: joinUrl,
  authHeaders: (credential) => ({ authorization: `Bearer ${credential}` }),
  meterJson: meterOpenAiJson,
  streamMeter: openaiStreamMeter,
};
