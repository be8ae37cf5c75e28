import type { ProviderAdapter } from "../types.ts";
import { googleError, googleUrl, readGoogleKey } from "./api.ts";
import { googleStreamMeter, meterGoogleJson } from "./meter.ts";
import { shapeGoogle, withGoogleMaxTokens } from "./request.ts";

export const googleAdapter: ProviderAdapter = {
  format: "google",
  readKey: readGoogleKey,
  keyHeaders: ["x-goog-api-key", "authorization"],
  errorBody: googleError,
  shape: shapeGoogle,
  withMaxOutputTokens: withGoogleMaxTokens,
  upstreamUrl: googleUrl,
  authHeaders: (credential) => ({ "x-goog-api-key": credential }),
  meterJson: meterGoogleJson,
  streamMeter: () => googleStreamMeter(),
};
