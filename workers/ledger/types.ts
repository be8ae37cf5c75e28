// What the TenantLedger answers over RPC. Plain data only (structured-clone safe).
import type { PriceOverride } from "../../shared/pricing.ts";
import type { UsageEvent } from "../../shared/usage.ts";
import type { BudgetWindow } from "../../shared/windows.ts";
import type { WireFormat } from "../../shared/wire-format.ts";

export type KeyRecord = {
  id: string;
  name: string;
  prefix: string;
  dimensions: Record<string, string>;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  /** the last four characters of the current secret (null for keys made before hints) */
  hint: string | null;
  rotatedAt: number | null;
  /** the previous secret's hint and when it stops (or stopped) being accepted; null if never rotated */
  previousHint: string | null;
  previousUntil: number | null;
};

export type ProviderRecord = {
  name: string;
  format: WireFormat;
  baseUrl: string | null;
  keyHint: string;
  updatedAt: number;
};

export type TenantSettings = {
  allowPassthroughKeys: boolean;
  /** IANA zone of the tenant's calendar budget windows (daily, weekly, monthly). */
  timeZone: string;
  /** BCP 47 locale the dashboard formats money, numbers and dates in */
  locale: string;
  /** "strict": one ledger call per request; "lease": gateway isolates admit from leased slices */
  admissionMode: "strict" | "lease";
};

// ---- rules: budgets, policies, rate limits ---------------------------------------------------

/** Which calls a budget counts: every field set must match (AND); an empty scope is the tenant. */
export type BudgetScope = {
  keyId?: string;
  /** glob */
  provider?: string;
  /** glob */
  model?: string;
  /** exact values; every one must be present on the call */
  dimensions?: Record<string, string>;
};

export type BudgetSpec = {
  name: string;
  scope: BudgetScope;
  window: BudgetWindow;
  /** integer nano-USD, as a decimal string */
  limitNano: string;
  mode: "block" | "alert";
  /** percents of the limit, ascending, each announced once per window */
  thresholds: number[];
  /** admit calls this budget covers when the ledger cannot answer (opt-in; fail closed otherwise) */
  failOpen: boolean;
};

export type PolicySpec = {
  name: string;
  /** null: every key of the tenant */
  keyId: string | null;
  /** globs; null allows every model not denied */
  allowModels: string[] | null;
  denyModels: string[];
  allowProviders: string[] | null;
  denyProviders: string[];
  /** refuse a request asking for more output tokens than this */
  maxTokensCap: number | null;
  /** output-token limit added to a request that sets none */
  defaultMaxTokens: number | null;
  requiredDimensions: string[];
  /** IP addresses or CIDR ranges; null allows any source */
  allowedSources: string[] | null;
};

export type RateLimitSpec = {
  name: string;
  /** null: the tenant as a whole (all keys together) */
  keyId: string | null;
  requestsPerMinute: number | null;
  tokensPerMinute: number | null;
};

export type RuleSpecs = { budget: BudgetSpec; policy: PolicySpec; rate_limit: RateLimitSpec };
export type RuleKind = keyof RuleSpecs;

export type RuleRecord<K extends RuleKind = RuleKind> = {
  id: string;
  kind: K;
  spec: RuleSpecs[K];
  createdAt: number;
  updatedAt: number;
};

/** A spec tagged with its kind, and a stored rule of any kind (both narrow on `kind`). */
export type RuleDraft = { [K in RuleKind]: { kind: K; spec: RuleSpecs[K] } }[RuleKind];
export type AnyRule = { [K in RuleKind]: RuleRecord<K> }[RuleKind];

export type BudgetStatus = RuleRecord<"budget"> & {
  windowStart: number;
  windowEnd: number;
  spentNano: bigint;
  heldNano: bigint;
  remainingNano: bigint;
};

// ---- admission ---------------------------------------------------------------------------------

/** What the gateway learned from the request. */
export type CallFacts = {
  model: string;
  endpoint: string;
  stream: boolean;
  /** false for calls that use no tokens (listing models): no hold, no token limits */
  metered: boolean;
  /** estimate of the prompt in tokens */
  inputTokens: number;
  /** output limit the request set, null when it set none */
  maxOutputTokens: number | null;
  /** answers the provider generates, each up to the output limit (OpenAI `n` / `best_of`,
   * Gemini `candidateCount`); absent means 1 */
  outputs?: number;
  /** dimensions from headers and body (validated); the key's bound ones are added by the ledger */
  dimensions: Record<string, string>;
  /** the client's address (cf-connecting-ip), null when unknown */
  source: string | null;
};

export type AdmitRequest = {
  keyId: string;
  keyHash: string;
  provider: string;
  /** whether the provider is one Outlay knows by name (registry.ts); any other must be one the
   * tenant configured, or the call is refused as unknown_provider before any rule is checked */
  builtInProvider: boolean;
  requestId: string;
  now: number;
  /** null: authenticate only (the request is malformed and will not be sent) */
  call: CallFacts | null;
};

export type BudgetHeadroom = { id: string; remainingNano: bigint };

/**
 * A stream whose hold does not cover its worst case (it started on what was left of a blocking
 * budget, or it has no output limit): the gateway estimates what it has used as output arrives
 * and asks the ledger to `draw` more before the hold runs out; when none is left it ends the
 * stream with the provider's own final events.
 */
export type StreamCredit = {
  grantedNano: bigint;
  /** cost of the prompt estimate */
  inputNano: bigint;
  /** nano-USD per million output tokens */
  outputRate: bigint;
  /** how much more to ask for at a time */
  stepNano: bigint;
  /** the worst case of a call with an output limit (no more is ever needed); null when unbounded */
  ceilingNano: bigint | null;
};

export type Admitted = {
  ok: true;
  key: { id: string; dimensions: Record<string, string> };
  /** null when the tenant stored no credential for this provider */
  provider: { format: WireFormat; baseUrl: string | null; sealedCredential: string } | null;
  allowPassthroughKeys: boolean;
  priceOverrides: PriceOverride[];
  /** the call's dimensions: the request's plus the key's bound ones */
  dimensions: Record<string, string>;
  /** an output limit the gateway must set in the request, lowering any larger one (a policy's
   * default, or what a blocking budget holds or has left), or null */
  injectMaxOutputTokens: number | null;
  /** worst-case cost held for this call, nano-USD (0 when nothing is held) */
  heldNano: bigint;
  /** the ledger holds something for this call (money or rate-limit tokens): settle it */
  held: boolean;
  /** blocking and alerting budgets the call counts against, after this call's hold */
  budgets: BudgetHeadroom[];
  credit: StreamCredit | null;
  /** every budget the call counts against allows it through when the ledger cannot answer */
  failOpen: boolean;
  /** set by the gateway: admitted from a remembered admission while the ledger could not answer */
  failedOpen?: true;
  /** the tenant admits in lease mode: the gateway should hold a lease */
  leaseMode: boolean;
  /** set by the gateway for a call admitted from its lease, without a ledger round trip */
  leased?: LocalHold;
};

/** What a call admitted from a lease took from it, given back (less its cost) when it ends. */
export type LocalHold = { leaseId: string; amount: bigint; budgetIds: string[]; tokens: number; limitIds: string[] };

// ---- leases ------------------------------------------------------------------------------------

export type LeasedKey = {
  id: string;
  hash: string;
  /** a rotated key's previous secret, accepted until previousUntil (both null when none is) */
  previousHash: string | null;
  previousUntil: number | null;
  dimensions: Record<string, string>;
  expiresAt: number | null;
};

/** What a gateway isolate reports when it renews its lease. */
export type LeaseReport = {
  /** null for a first lease */
  leaseId: string | null;
  now: number;
  /** usage events of calls admitted from the lease since the last report */
  events: UsageEvent[];
  /** per leased budget: the free slice the isolate still has and how much of it it gives back */
  budgets: { id: string; freeNano: bigint; releaseNano: bigint }[];
  /** per rate limit: the share the isolate still has and how much of it it gives back */
  rates: { id: string; requests: number; tokens: number; returnRequests: number; returnTokens: number }[];
};

export type LeaseGrant = {
  leaseId: string;
  /** the isolate admits from the lease for this long after receiving it, then asks again */
  ttlMs: number;
  keys: LeasedKey[];
  providers: Record<string, NonNullable<Admitted["provider"]>>;
  priceOverrides: PriceOverride[];
  settings: TenantSettings;
  budgets: RuleRecord<"budget">[];
  policies: RuleRecord<"policy">[];
  rateLimits: RuleRecord<"rate_limit">[];
  /** per budget: money added to the isolate's free slice (0 for alert budgets) and what the
   * budget has left beyond every hold, for the remaining-budget headers */
  grants: { id: string; grantNano: bigint; remainingNano: bigint }[];
  /** per rate limit: requests and tokens added to the isolate's share */
  rateGrants: { id: string; requests: number; tokens: number }[];
};

export type RefusalCode =
  | "invalid_api_key"
  | "invalid_dimension"
  | "budget_exceeded"
  | "policy_denied"
  | "rate_limited"
  /** token counts the ledger cannot price (not whole, or past 2^53): never a throw */
  | "bad_request"
  | "unknown_provider";

export type Refused = {
  ok: false;
  code: RefusalCode;
  message: string;
  /** for invalid_api_key: why (never shown to the caller) */
  reason?: "unknown" | "revoked" | "expired" | "rotated";
  /** the budget, policy or rate limit that refused */
  ruleId?: string;
  retryAfterSeconds?: number;
};

export type AdmitResult = Admitted | Refused;

export type NewKey = {
  id: string;
  hash: string;
  name: string;
  prefix: string;
  dimensions: Record<string, string>;
  expiresAt: number | null;
  /** the last four characters of the secret */
  hint: string;
};

/** A new secret for a key: its hash and hint, how long the old one stays valid, and the
 * rotation's id (a retry with the same id changes nothing). */
export type KeyRotation = { rotationId: string; hash: string; hint: string; graceMs: number };

export type RotateResult =
  | { outcome: "rotated"; key: KeyRecord }
  /** the key's last rotation had this id: nothing changed */
  | { outcome: "replayed"; key: KeyRecord }
  | { outcome: "revoked" | "expired"; key: KeyRecord }
  | { outcome: "not_found" };

export type ProviderUpdate = {
  name: string;
  format: WireFormat;
  baseUrl: string | null;
  sealedCredential: string;
  keyHint: string;
};
