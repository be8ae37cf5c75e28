import type { ProviderAdapter } from "../types.ts";
import { googleError, readGoogleKey } from "./api.ts";
import { googleStreamMeter, meterGoogleJson } from "./meter.ts";
import { shapeGoogle, withGoogleMaxTokens } from "./request.ts";

export const googleAdapter: ProviderAdapter = {
  format: "google",
  readKey: readGoogleKey,
  errorBody: googleError,
  shape: shapeGoogle,
  withMaxOutputTokens: withGoogleMaxTokens,
  authHeaders: (credential) => ({ "x-goog-api-key": credential }),
  meterJson: meterGoogleJson,
  streamMeter: () => googleStreamMeter(),
};
