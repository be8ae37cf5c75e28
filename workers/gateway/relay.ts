// Relays the upstream answer to the client and measures what the call used. Three paths:
//
//   error status or unmetered endpoint ─ body passed through natively; event now, no usage
//   JSON ─ read whole (the provider has finished generating; its usage is at the end), metered,
//          answered with the same bytes; a body that breaks off is answered 502
//   SSE  ─ meteredBody: chunk by chunk, never buffered; event when the stream ends however it ends
import { AppError } from "../../shared/errors.ts";
import { formatUsd } from "../../shared/money.ts";
import type { Outcome, TokenUsage, UsageEvent, UsageSource } from "../../shared/usage.ts";
import type { Admitted, Refused, StreamCredit } from "../ledger/index.ts";
import { ADMISSION_HEADER } from "./fail-open.ts";
import { meteredBody, type BodyEnd } from "./metered-stream.ts";
import type { CallShape, ProviderAdapter } from "./providers/types.ts";
import { buildEvent, estimateUsage, type CallRecord } from "./record.ts";
import { CreditMeter, type Draw } from "./stream-credit.ts";

export const REQUEST_ID_HEADER = "x-outlay-request-id";
export const REFUSAL_HEADER = "x-outlay-refusal";
/** The id of the budget, policy or rate limit that refused a call. */
export const REFUSAL_RULE_HEADER = "x-outlay-refusal-rule";
/** Prefix of one header per budget the call counts against: what is left, in USD, after its hold. */
export const BUDGET_REMAINING_HEADER = "x-outlay-budget-remaining-";

const DROP_RESPONSE = new Set(["content-length", "connection", "keep-alive", "transfer-encoding", "set-cookie"]);

export function refusal(
  adapter: ProviderAdapter,
  error: AppError,
  requestId: string,
  extra: Record<string, string> = {},
): Response {
  const headers = new Headers({ ...extra, "content-type": "application/json", [REQUEST_ID_HEADER]: requestId });
  headers.set(REFUSAL_HEADER, error.code);
  return new Response(JSON.stringify(adapter.errorBody(error)), { status: error.status, headers });
}

/** Response headers naming what refused the call and, for rate limits, when to retry. */
export function refusalHeaders(refused: Refused): Record<string, string> {
  const headers: Record<string, string> = {};
  if (refused.ruleId) headers[REFUSAL_RULE_HEADER] = refused.ruleId;
  if (refused.retryAfterSeconds !== undefined) headers["retry-after"] = String(refused.retryAfterSeconds);
  return headers;
}

/** Response headers of an admitted call: how it was admitted when not by the ledger (fail-open,
 * lease) and, unless it failed open, what each of its budgets has left after its hold. */
export function admissionHeaders(admitted: Admitted): Record<string, string> {
  if (admitted.failedOpen) return { [ADMISSION_HEADER]: "fail-open" };
  const headers: Record<string, string> = {};
  for (const b of admitted.budgets) headers[`${BUDGET_REMAINING_HEADER}${b.id}`] = formatUsd(b.remainingNano);
  if (admitted.leased) headers[ADMISSION_HEADER] = "lease";
  return headers;
}

export type RelayContext = {
  adapter: ProviderAdapter;
  shape: CallShape;
  record: CallRecord;
  requestId: string;
  emit: (event: UsageEvent) => void;
  /** Estimated input tokens of the request, for calls that end before the provider reports usage. */
  inputEstimate: number;
  /** Outlay's own response headers (remaining budgets). */
  headers: Record<string, string>;
  /** Set for a stream whose hold is drawn down as it runs. */
  credit: StreamCredit | null;
  draw: Draw;
};

type Measure = { outcome: Outcome; usage: TokenUsage | null; usageSource: UsageSource; firstByteAt: number | null };

export async function relay(upstream: Response, ctx: RelayContext): Promise<Response> {
  const { adapter, shape } = ctx;
  const headers = new Headers();
  for (const [name, value] of upstream.headers) if (!DROP_RESPONSE.has(name)) headers.set(name, value);
  for (const [name, value] of Object.entries(ctx.headers)) headers.set(name, value);
  headers.set(REQUEST_ID_HEADER, ctx.requestId);
  const init = { status: upstream.status, statusText: upstream.statusText, headers };
  const record = (status: number, m: Measure) =>
    ctx.emit(buildEvent(ctx.record, { status, ...m, endedAt: Date.now() }));

  if (!upstream.ok || !shape.metered || !upstream.body) {
    const outcome = upstream.ok ? "ok" : "upstream_error";
    record(upstream.status, { outcome, usage: null, usageSource: "none", firstByteAt: Date.now() });
    return new Response(upstream.body, init);
  }

  if (!(upstream.headers.get("content-type") ?? "").includes("text/event-stream")) {
    let bytes: ArrayBuffer;
    try {
      bytes = await upstream.arrayBuffer();
    } catch {
      const usage = estimateUsage(null, 0, ctx.inputEstimate);
      record(502, { outcome: "upstream_cut", usage, usageSource: "estimated", firstByteAt: null });
      return refusal(adapter, new AppError("upstream_unreachable", "The provider's answer broke off."), ctx.requestId);
    }
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      json = null; // not JSON after all: metered as an estimate
    }
    const usage = adapter.meterJson(shape.endpoint, json);
    const measured = usage
      ? { usage, usageSource: "provider" as const }
      : { usage: estimateUsage(null, 0, ctx.inputEstimate), usageSource: "estimated" as const };
    record(upstream.status, { outcome: "ok", ...measured, firstByteAt: Date.now() });
    return new Response(bytes, init);
  }

  const meter = adapter.streamMeter(shape.endpoint, shape.stripUsageChunk);
  let firstByteAt: number | null = null;
  const finish = (end: BodyEnd) => {
    const reported = meter.usage();
    const outcome: Outcome = end === "complete" ? "ok" : end;
    const usage = reported ?? estimateUsage(meter.partialUsage(), meter.outputChars(), ctx.inputEstimate);
    record(upstream.status, { outcome, usage, usageSource: reported ? "provider" : "estimated", firstByteAt });
  };
  const body = meteredBody(upstream.body, {
    meter,
    strip: shape.stripUsageChunk,
    credit: ctx.credit ? new CreditMeter(ctx.credit, meter, ctx.inputEstimate, ctx.draw) : null,
    onFirstByte: () => {
      firstByteAt = Date.now();
    },
    onEnd: finish,
  });
  return new Response(body, init);
}
