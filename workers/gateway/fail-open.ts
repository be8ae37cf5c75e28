// Fail-open, opt-in per budget. When the ledger cannot answer, a call is refused (503) unless
// this isolate admitted the same key (same secret) for the same provider and model within
// FAIL_OPEN_TTL_MS and every budget that call counted against was opted into fail-open (and at
// least one was). Such a call goes through without a hold; its usage event is booked by the
// usage consumer once the ledger answers again. Policies and rate limits are not checked again:
// the remembered admission stands for them, for at most FAIL_OPEN_TTL_MS.
import type { Admitted } from "../ledger/index.ts";

export const FAIL_OPEN_TTL_MS = 5 * 60_000;
/** Response header on calls admitted without the ledger. */
export const ADMISSION_HEADER = "x-outlay-admission";
const MAX_ENTRIES = 10_000;

type Entry = { keyHash: string; at: number; until: number; admitted: Admitted };

const remembered = new Map<string, Entry>();
/** When the ledger last refused a key (tenant + key id): admissions remembered before it no longer count. */
const refused = new Map<string, number>();

const keyRef = (tenantId: string, keyId: string) => `${tenantId}\u0000${keyId}`;

const entryKey = (tenantId: string, keyId: string, provider: string, model: string) =>
  `${tenantId}\u0000${keyId}\u0000${provider}\u0000${model}`;

/** Notes a fresh admission: remembered when it may fail open, forgotten otherwise. */
export function rememberAdmission(
  tenantId: string,
  keyId: string,
  provider: string,
  model: string,
  keyHash: string,
  admitted: Admitted,
  now: number,
): void {
  const key = entryKey(tenantId, keyId, provider, model);
  if (!admitted.failOpen) {
    remembered.delete(key);
    return;
  }
  if (remembered.size >= MAX_ENTRIES) remembered.clear();
  // The output limit the ledger sent with this call was chosen for it (its own limit, or what a
  // budget's remainder bought): a later call admitted from this memory is sent as it came.
  const unheld: Admitted = {
    ...admitted,
    heldNano: 0n,
    held: false,
    budgets: [],
    credit: null,
    injectMaxOutputTokens: null,
  };
  remembered.set(key, { keyHash, at: now, until: now + FAIL_OPEN_TTL_MS, admitted: unheld });
}

/** The ledger refused this key (revoked, expired, over a budget, against a policy): nothing
 * remembered for it may stand in for the ledger any more, on any provider or model. */
export function forgetKey(tenantId: string, keyId: string, now: number): void {
  // O(1) per refusal (a refused flood must not scan the map): the mark outranks older entries.
  if (refused.size >= MAX_ENTRIES) refused.clear();
  refused.set(keyRef(tenantId, keyId), now);
}

/** The admission to use when the ledger cannot answer, or null to refuse. */
export function failOpenAdmission(
  tenantId: string,
  keyId: string,
  provider: string,
  model: string,
  keyHash: string,
  now: number,
): Admitted | null {
  const entry = remembered.get(entryKey(tenantId, keyId, provider, model));
  if (!entry || entry.until <= now || entry.keyHash !== keyHash) return null;
  const refusedAt = refused.get(keyRef(tenantId, keyId));
  if (refusedAt !== undefined && refusedAt >= entry.at) return null;
  return entry.admitted;
}
