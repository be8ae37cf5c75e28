// The JSON columns of a hold (the ledger's holds table), checked as they are read back: the
// budgets it is booked against, each with its window key, and the rate limits it took tokens from.
import { z } from "zod";

/** [budget id, window key] pairs. */
export const HeldBudgets = z.array(z.tuple([z.string(), z.number()]));

/** Rate limit ids. */
export const HeldLimits = z.array(z.string());
