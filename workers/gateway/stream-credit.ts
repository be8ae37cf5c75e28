// Draw-down of a stream's hold (see StreamCredit in ledger/types.ts). After each stretch of
// events the gateway estimates what the stream has cost so far (the prompt estimate plus the
// output seen, in tokens by the provider's running count or four characters a token) and, when
// the hold is about to run out, asks the ledger for more. `allows()` false means no more can be
// had: the gateway ends the stream with the provider's own final events.
import { AppError } from "../../shared/errors.ts";
import type { TokenUsage } from "../../shared/usage.ts";
import type { StreamCredit } from "../ledger/index.ts";
import type { StreamMeter } from "./providers/types.ts";
import { estimateTokens, estimateUsage } from "./record.ts";

/** Asks the ledger to raise the stream's hold to `wantNano`: what it grants, or an AppError when it could not answer. */
export type Draw = (usedNano: bigint, wantNano: bigint) => Promise<bigint | AppError>;

export class CreditMeter {
  readonly #credit: StreamCredit;
  readonly #meter: StreamMeter;
  readonly #draw: Draw;
  readonly #inputEstimate: number;
  /** the ledger had no more to give: ask again only once the hold is spent */
  #exhausted = false;

  constructor(credit: StreamCredit, meter: StreamMeter, inputEstimate: number, draw: Draw) {
    this.#credit = { ...credit };
    this.#meter = meter;
    this.#inputEstimate = inputEstimate;
    this.#draw = draw;
  }

  /** What the stream has used so far, in nano-USD (rounded up). */
  used(): bigint {
    const tokens = Math.max(this.#meter.partialUsage()?.outputTokens ?? 0, estimateTokens(this.#meter.outputChars()));
    return this.#credit.inputNano + (BigInt(tokens) * this.#credit.outputRate + 999_999n) / 1_000_000n;
  }

  /** The usage charged for a stream ended here. */
  usage(): TokenUsage {
    return estimateUsage(this.#meter.partialUsage(), this.#meter.outputChars(), this.#inputEstimate);
  }

  async allows(): Promise<boolean> {
    const { grantedNano, stepNano, ceilingNano } = this.#credit;
    if (ceilingNano !== null && grantedNano >= ceilingNano) return true;
    const used = this.used();
    const low = used + stepNano / 4n > grantedNano;
    if (!low || (this.#exhausted && used <= grantedNano)) return true;
    const wanted = used + stepNano;
    const want = ceilingNano !== null && wanted > ceilingNano ? ceilingNano : wanted;
    const drawn = await this.#draw(used, want);
    // The ledger cannot answer: go on with what is held, and no further (fail closed).
    const granted = drawn instanceof AppError ? grantedNano : drawn;
    this.#exhausted = granted <= grantedNano;
    this.#credit.grantedNano = granted;
    return used <= granted;
  }
}
