// Stored JSON read back with a checked parser instead of a cast. What we stored we wrote
// ourselves, so text that does not parse, or does not have the shape it was written with, is
// corrupt data: a broken invariant (a bug), thrown, never an expected failure.
import type { z } from "zod";

/** `text` parsed as JSON and checked by `schema`; throws an Error naming `what` when it is not. */
export function parseStored<T>(schema: z.ZodType<T>, text: string, what: string): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`stored ${what} is not JSON`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`stored ${what} is malformed: ${issue?.path.join(".") ?? ""} ${issue?.message ?? ""}`.trim());
  }
  return parsed.data;
}
