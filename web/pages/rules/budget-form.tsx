// The budget form: every field of the API's BudgetBody, and how the form's text reads into that
// body (then checked by BudgetBody itself) and back.
import { formatDecimal } from "../../../shared/money.ts";
import type { BudgetSpec } from "../../../workers/ledger/index.ts";
import { Field, SelectField } from "../../components/form.tsx";
import { dimensions, dimensionsText, percents, text, usd, wholeNumber, type FieldMessages } from "./convert.ts";
import { CheckField, KeySelect, RuleForm, type FieldErrors, type FormValues, type RuleFormProps } from "./fields.tsx";

export const WINDOWS = [
  { value: "daily", label: "Daily (calendar day)" },
  { value: "weekly", label: "Weekly (Monday to Sunday)" },
  { value: "monthly", label: "Monthly (calendar month)" },
  { value: "rolling", label: "Rolling (the last N hours)" },
  { value: "lifetime", label: "Lifetime (never resets)" },
] as const;

export const BUDGET_MESSAGES: FieldMessages = {
  name: { label: "Name" },
  limit_usd: {
    label: "Limit",
    override: (issue) =>
      issue.code !== "custom"
        ? null
        : issue.message.startsWith("must be at most")
          ? "The limit can be at most $1,000,000,000."
          : "Write the limit in US dollars with a point for decimals and no thousands separators, e.g. 25 or 0.50.",
  },
  window: { label: "A window" },
  rolling_hours: {
    label: "Rolling hours",
    override: (issue) => (issue.code === "custom" ? "A rolling window needs its length in hours (1 to 8,760)." : null),
  },
  mode: { label: "A mode" },
  thresholds: { label: "Thresholds", each: "Each threshold" },
  fail_open: { label: "Fail open" },
  key_id: { label: "Key", override: () => "Choose a key from the list." },
  provider: { label: "Provider pattern" },
  model: { label: "Model pattern" },
  dimensions: { label: "Dimensions" },
};

/** The form's text as the API's body (BudgetBody); hours are read only for a rolling window,
 * the only one they belong to (the field is hidden for the others). */
export function budgetBody(v: FormValues): { body: unknown; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const scope: Record<string, unknown> = {};
  const keyId = text(v.key_id);
  if (keyId !== undefined) scope.key_id = keyId;
  const provider = text(v.provider);
  if (provider !== undefined) scope.provider = provider;
  const model = text(v.model);
  if (model !== undefined) scope.model = model;
  const dims = dimensions(v.dimensions);
  if (typeof dims === "string") errors.dimensions = dims;
  else if (Object.keys(dims).length > 0) scope.dimensions = dims;
  const body: Record<string, unknown> = {
    name: v.name ?? "",
    scope,
    window: v.window ?? "",
    limit_usd: usd(v.limit_usd),
    mode: v.mode ?? "block",
    thresholds: percents(v.thresholds),
    fail_open: v.fail_open === "on",
  };
  if (v.window === "rolling") body.rolling_hours = wholeNumber(v.rolling_hours);
  return { body, errors };
}

/** A stored budget as the form's text (to edit it). */
export function budgetValues(spec: BudgetSpec): FormValues {
  return {
    name: spec.name,
    limit_usd: formatDecimal(BigInt(spec.limitNano), 9, 2),
    window: spec.window.kind,
    rolling_hours: spec.window.kind === "rolling" ? String(spec.window.hours) : "",
    mode: spec.mode,
    thresholds: spec.thresholds.join(", "),
    key_id: spec.scope.keyId ?? "",
    provider: spec.scope.provider ?? "",
    model: spec.scope.model ?? "",
    dimensions: dimensionsText(spec.scope.dimensions),
    fail_open: spec.failOpen ? "on" : "",
  };
}

export const NEW_BUDGET: FormValues = { window: "monthly", mode: "block", thresholds: "50, 80, 100" };

export function BudgetForm({ form }: { form: RuleFormProps }) {
  const v = form.values;
  const e = form.errors;
  return (
    <RuleForm form={form} noun="budget" listPath="/budgets">
      <Field name="name" label="Name" value={v.name} error={e.name} hint="Shown in refusals and alerts" />
      <Field
        name="limit_usd"
        label="Limit (USD)"
        value={v.limit_usd}
        error={e.limit_usd}
        inputmode="text"
        hint="In US dollars per window, e.g. 25 or 0.50"
      />
      <SelectField
        name="window"
        label="Window"
        value={v.window}
        options={WINDOWS}
        error={e.window}
        hint={
          form.existing
            ? "Calendar windows follow the organisation's time zone. Changing the window restarts the count from zero."
            : "Calendar windows follow the organisation's time zone."
        }
      />
      <div class="rolling-only">
        <Field
          name="rolling_hours"
          label="Rolling window length (hours)"
          value={v.rolling_hours}
          error={e.rolling_hours}
          required={false}
          inputmode="numeric"
          hint="Only for a rolling window: 1 to 8,760 hours (a year)"
        />
      </div>
      <SelectField
        name="mode"
        label="When the limit is reached"
        value={v.mode}
        error={e.mode}
        options={[
          { value: "block", label: "Block: refuse calls that do not fit" },
          { value: "alert", label: "Alert: never refuse, only announce the thresholds" },
        ]}
      />
      <Field
        name="thresholds"
        label="Thresholds (percent of the limit)"
        value={v.thresholds}
        error={e.thresholds}
        required={false}
        hint="Each is announced once per window in the audit trail (and to webhooks), e.g. 50, 80, 100. Leave empty for none."
      />
      <fieldset class="plain">
        <legend>Which calls count</legend>
        <p class="hint">Every part you set must match; leave them all empty to count every call of the organisation.</p>
        <div class="stack">
          <KeySelect keys={form.keys} value={v.key_id} error={e.key_id} anyLabel="Any key" />
          <Field
            name="provider"
            label="Provider pattern"
            value={v.provider}
            error={e.provider}
            required={false}
            hint="Optional: e.g. openai, or anthropic*; * matches any run of characters, ? one"
          />
          <Field
            name="model"
            label="Model pattern"
            value={v.model}
            error={e.model}
            required={false}
            hint="Optional: e.g. gpt-4o*, or claude-*-sonnet*"
          />
          <Field
            name="dimensions"
            label="Dimensions"
            value={v.dimensions}
            error={e.dimensions}
            required={false}
            hint="Optional: name=value pairs the call must carry, separated by commas, e.g. team=search, project=assistant"
          />
        </div>
      </fieldset>
      <CheckField
        name="fail_open"
        label="Fail open"
        checked={v.fail_open === "on"}
        error={e.fail_open}
        hint="When the ledger cannot answer, calls are refused (fail closed). With this on, a call this budget covers may still go through if the same key, provider and model were admitted in the last 5 minutes — so spend can briefly pass the limit."
      />
    </RuleForm>
  );
}
