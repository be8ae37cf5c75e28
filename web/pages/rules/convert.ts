// From a rule form to the management API's body and back. The body is then checked by the very
// zod schema the API uses (workers/services/rules.ts), so a rule saved on the dashboard obeys
// exactly the API's rules; here only the form's text is read into the body's shape, and zod's
// issues are turned into sentences beside the form's fields.
import type { z } from "zod";
import { parseDimensionList } from "../../../shared/dimensions.ts";
import { AppError } from "../../../shared/errors.ts";
import type { FieldErrors } from "./fields.tsx";

/** How a field is named in messages; `each` names one entry of a list field. */
export type FieldLabel = { label: string; each?: string };

/** A field's own wording for an issue, when zod's would read like the API's (null: the default). */
export type MessageOverride = (issue: z.core.$ZodIssue) => string | null;

export type FieldMessages = Record<string, FieldLabel & { override?: MessageOverride }>;

/** Trimmed text, or undefined when empty. */
export function text(value: string | undefined): string | undefined {
  const t = (value ?? "").trim();
  return t === "" ? undefined : t;
}

/** A whole number when the text is one; other text is passed on for zod to refuse as not a number. */
export function wholeNumber(value: string | undefined): number | string | undefined {
  const t = text(value);
  if (t === undefined) return undefined;
  return /^\d{1,15}$/.test(t) ? Number(t) : t;
}

/** A list written with commas, spaces or new lines: "gpt-4o*, claude-*" → ["gpt-4o*", "claude-*"]. */
export function list(value: string | undefined): string[] {
  return (value ?? "").split(/[\s,]+/).filter(Boolean);
}

/** Percents "50, 80%, 100" → [50, 80, 100]; an entry that is not a whole number is kept as text. */
export function percents(value: string | undefined): (number | string)[] {
  return list(value).map((p) => {
    const n = p.replace(/%$/, "");
    return /^\d{1,15}$/.test(n) ? Number(n) : p;
  });
}

/** An amount of USD as typed: a leading "$" is allowed; the rest must be the API's decimal. */
export function usd(value: string | undefined): string {
  return (value ?? "").trim().replace(/^\$\s*/, "");
}

/** "team=search, project=x" → { team: "search", project: "x" }, or a message for the first bad part
 * (shared/dimensions.ts's parseDimensionList: commas or new lines, a name given twice refused). */
export function dimensions(value: string | undefined): Record<string, string> | string {
  const parsed = parseDimensionList(value ?? "");
  return parsed instanceof AppError ? parsed.message : parsed;
}

export function dimensionsText(dims: Record<string, string> | undefined): string {
  return Object.entries(dims ?? {})
    .map(([name, value]) => `${name}=${value}`)
    .join(", ");
}

/** The form field an issue belongs to: budgets nest the scope's fields under `scope`. */
function fieldOf(path: readonly PropertyKey[]): string {
  const [first, second] = path;
  const field = first === "scope" && second !== undefined ? second : first;
  return typeof field === "string" ? field : "form";
}

function plain(n: number | bigint): string {
  return new Intl.NumberFormat("en-US").format(n);
}

/** A sentence for one zod issue about the field labelled `label`. */
function sentence(issue: z.core.$ZodIssue, label: string): string {
  switch (issue.code) {
    case "too_small":
      if (issue.origin === "string") return issue.minimum === 1 ? `${label} is required.` : `${label} is too short.`;
      if (issue.origin === "array") return `${label}: give at least ${plain(issue.minimum)}.`;
      return `${label} must be ${issue.inclusive === false ? "more than" : "at least"} ${plain(issue.minimum)}.`;
    case "too_big":
      if (issue.origin === "string") return `${label} must be at most ${plain(issue.maximum)} characters.`;
      if (issue.origin === "array") return `${label}: at most ${plain(issue.maximum)} entries.`;
      return `${label} must be ${issue.inclusive === false ? "less than" : "at most"} ${plain(issue.maximum)}.`;
    case "invalid_type":
      return issue.expected === "number" || issue.expected === "int"
        ? `${label} must be a whole number.`
        : `${label} is not valid.`;
    case "invalid_value":
      return `Choose ${label.toLowerCase()} from the list.`;
    default:
      // Refinements: the schema's own words, either a sentence or a predicate ("must …").
      return /^[A-Z]/.test(issue.message) ? issue.message : `${label} ${issue.message}.`;
  }
}

/** The schema's issues as one message per form field (the first issue of each field). */
export function fieldErrors(issues: readonly z.core.$ZodIssue[], messages: FieldMessages): FieldErrors {
  const errors: FieldErrors = {};
  for (const issue of issues) {
    const field = fieldOf(issue.path);
    if (errors[field] !== undefined) continue;
    const about = messages[field];
    if (!about) {
      errors.form = issue.message;
      continue;
    }
    const label = issue.path.length > (issue.path[0] === "scope" ? 2 : 1) && about.each ? about.each : about.label;
    errors[field] = about.override?.(issue) ?? sentence(issue, label);
  }
  return errors;
}

/** Reads a form into the API body, checks it with the API's schema, and answers the parsed body or
 * the errors by field (the form's own reading problems first, e.g. a malformed dimension list). */
export function checkForm<S extends z.ZodType>(
  schema: S,
  read: { body: unknown; errors: FieldErrors },
  messages: FieldMessages,
): { ok: true; data: z.infer<S> } | { ok: false; errors: FieldErrors } {
  const parsed = schema.safeParse(read.body);
  const errors = parsed.success ? {} : fieldErrors(parsed.error.issues, messages);
  const all = { ...errors, ...read.errors };
  if (parsed.success && Object.keys(all).length === 0) return { ok: true, data: parsed.data };
  return { ok: false, errors: all };
}
