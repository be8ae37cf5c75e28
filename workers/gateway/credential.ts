// The provider credential a call is sent with: the tenant's stored one, opened in memory for this
// call only (never stored or logged open), or the client's own in x-outlay-provider-key when the
// organisation allows it.
import { dataKeyring, open } from "../../shared/crypto.ts";
import { AppError } from "../../shared/errors.ts";
import type { Admitted } from "../ledger/index.ts";

export const PASSTHROUGH_HEADER = "x-outlay-provider-key";

export async function credentialFor(
  env: Env,
  tenantId: string,
  provider: string,
  admitted: Admitted,
  passthrough: string | null,
): Promise<string | AppError> {
  if (passthrough) {
    if (!admitted.allowPassthroughKeys) {
      return new AppError("forbidden", `This organisation does not allow provider keys in ${PASSTHROUGH_HEADER}.`);
    }
    return passthrough;
  }
  if (!admitted.provider) {
    return new AppError("provider_not_configured", `No credential is configured for provider "${provider}".`);
  }
  try {
    return await open(dataKeyring(env.DATA_KEYS), admitted.provider.sealedCredential, `${tenantId}/${provider}`);
  } catch {
    // WebCrypto refused the envelope (its data key is gone or it was altered), or DATA_KEYS is
    // malformed: nothing of the error is kept.
    return unreadable();
  }
}

/** The stored credential could not be opened: Outlay's fault, not the request's. */
export const unreadable = (): AppError =>
  new AppError("internal_error", "The stored provider credential could not be read.");
