import type { ProviderAdapter } from "../types.ts";
import { readBearer } from "../../../../shared/bearer.ts";
import { openaiError } from "./api.ts";
import { meterOpenAiJson, openaiStreamMeter } from "./meter.ts";
import { shapeOpenAi, withOpenAiMaxTokens } from "./request.ts";

export const openaiAdapter: ProviderAdapter = {
  format: "openai",
  readKey: readBearer,
  errorBody: openaiError,
  shape: shapeOpenAi,
  withMaxOutputTokens: withOpenAiMaxTokens,
  authHeaders: (credential) => ({ authorization: `Bearer ${credential}` }),
  meterJson: meterOpenAiJson,
  streamMeter: openaiStreamMeter,
};
