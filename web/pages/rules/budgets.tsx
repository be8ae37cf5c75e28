// /budgets: the list with each budget's current window (spent, held, remaining) and its state in
// words, and the page around the budget form (with the current window when editing).
import type { BudgetSpec, BudgetStatus } from "../../../workers/ledger/index.ts";
import { Progress } from "../../components/progress.tsx";
import { Table } from "../../components/table.tsx";
import type { Format } from "../../format.ts";
import { BudgetForm } from "./budget-form.tsx";
import { dimensionsText } from "./convert.ts";
import { ChangeNotice, keyLabel, type KeyOption, type RuleFormProps } from "./fields.tsx";

/** "Whole organisation", or every part of the scope in words. */
export function scopeText(spec: BudgetSpec, keys: KeyOption[]): string {
  const parts: string[] = [];
  if (spec.scope.keyId) parts.push(keyLabel(keys, spec.scope.keyId));
  if (spec.scope.provider) parts.push(`provider ${spec.scope.provider}`);
  if (spec.scope.model) parts.push(`model ${spec.scope.model}`);
  if (spec.scope.dimensions) parts.push(dimensionsText(spec.scope.dimensions));
  return parts.length === 0 ? "Whole organisation" : parts.join("; ");
}

/** The window's kind and the current window's dates in the organisation's zone. */
export function windowText(s: BudgetStatus, f: Format): { kind: string; dates: string } {
  const w = s.spec.window;
  // The window ends before windowEnd (exclusive); a lifetime window has no dates at all.
  const lastDay = () => f.date(s.windowEnd - 1);
  switch (w.kind) {
    case "daily":
      return { kind: "Daily", dates: lastDay() };
    case "weekly":
      return { kind: "Weekly", dates: `${f.date(s.windowStart)} – ${lastDay()}` };
    case "monthly":
      return { kind: "Monthly", dates: `${f.date(s.windowStart)} – ${lastDay()}` };
    case "rolling":
      return { kind: `Rolling ${f.count(w.hours)}\u00a0h`, dates: `since ${f.dateTime(s.windowStart)}` };
    case "lifetime":
      return { kind: "Lifetime", dates: "never resets" };
  }
}

export type BudgetState = { kind: "ok" | "warn" | "danger"; text: string };

/** Where the budget stands, in words (the badge's colour is never the only signal). */
export function budgetState(s: BudgetStatus): BudgetState {
  const limit = BigInt(s.spec.limitNano);
  const block = s.spec.mode === "block";
  if (limit === 0n) {
    if (block) return { kind: "danger", text: "A zero limit: every call is refused" };
    return s.spentNano > 0n
      ? { kind: "warn", text: "Over the limit (alert only)" }
      : { kind: "ok", text: "Nothing spent" };
  }
  if (s.spentNano >= limit) {
    return block
      ? { kind: "danger", text: "Limit reached: calls are refused" }
      : { kind: "warn", text: "Over the limit (alert only)" };
  }
  if (block && s.remainingNano <= 0n) return { kind: "danger", text: "No room left: new calls are refused" };
  const passed = s.spec.thresholds.filter((t) => s.spentNano * 100n >= limit * BigInt(t)).at(-1);
  if (passed !== undefined) return { kind: "warn", text: `Past the ${passed}% threshold` };
  return { kind: "ok", text: "Within the limit" };
}

export type BudgetsView = {
  csrf: string;
  mayWrite: boolean;
  budgets: BudgetStatus[];
  keys: KeyOption[];
  format: Format;
};

/** The table of budgets; htmx polls it (the same markup is the page's part and the fragment). */
export function BudgetList({ view }: { view: BudgetsView }) {
  const f = view.format;
  return (
    <section id="budget-list" hx-get="/budgets" hx-trigger="every 30s" hx-swap="outerHTML">
      <Table headers={["Budget and state", "This window", "Limit", "Mode", "Window", "Which calls"]}>
        {view.budgets.map((s) => {
          const w = windowText(s, f);
          const state = budgetState(s);
          return (
            <tr>
              <td>
                <a href={`/budgets/${s.id}`}>{s.spec.name}</a>
                <br />
                <span class={`badge ${state.kind}`}>{state.text}</span>
              </td>
              <td class="progress-cell">
                <Progress
                  id={`p-${s.id}`}
                  label={s.spec.name}
                  limitNano={BigInt(s.spec.limitNano)}
                  spentNano={s.spentNano}
                  heldNano={s.heldNano}
                  format={f}
                />
              </td>
              <td class="num">{f.usd(BigInt(s.spec.limitNano))}</td>
              <td>{s.spec.mode === "block" ? "Block" : "Alert"}</td>
              <td>
                {w.kind}
                <br />
                <span class="hint">{w.dates}</span>
              </td>
              <td>{scopeText(s.spec, view.keys)}</td>
            </tr>
          );
        })}
      </Table>
    </section>
  );
}

export function BudgetsPage(p: { view: BudgetsView; saved: string | null; deleted: boolean }) {
  const v = p.view;
  return (
    <>
      <h1>Budgets</h1>
      <p class="lead">
        A budget caps what calls may spend in a window. Outlay holds each call's worst case before it is sent, so a
        blocking budget is not overrun, even by calls running at the same time.
      </p>
      <ChangeNotice saved={p.saved} deleted={p.deleted} noun="budget" />
      {v.mayWrite && (
        <p>
          <a class="button" href="/budgets/new">
            New budget
          </a>
        </p>
      )}
      {v.budgets.length === 0 ? (
        <section class="card empty">
          <h2>No budgets yet</h2>
          <p>
            Without a budget, calls are metered but never refused for cost. A budget sets a limit in US dollars per day,
            week, month, rolling hours or for ever — for the whole organisation, one key, a provider, a model or a team
            (dimension) — and either blocks calls that would pass it or only raises alerts at thresholds you choose.
          </p>
          {v.mayWrite ? (
            <p>
              <a href="/budgets/new">Create the first budget</a>.
            </p>
          ) : (
            <p>Owners and admins of the organisation can create budgets.</p>
          )}
        </section>
      ) : (
        <BudgetList view={v} />
      )}
    </>
  );
}

/** Create or edit (read-only for roles that may not change budgets), with the current window. */
export function BudgetFormPage(p: { form: RuleFormProps; status: BudgetStatus | null; format: Format }) {
  const s = p.status;
  const name = s?.spec.name ?? "";
  const current = s ? windowText(s, p.format) : null;
  const state = s ? budgetState(s) : null;
  return (
    <>
      <h1>{s ? `Budget “${name}”` : "New budget"}</h1>
      {s && (
        <section class="card" aria-labelledby="current-h">
          <h2 id="current-h">This window</h2>
          <p class="hint">{`${current?.kind}: ${current?.dates}`}</p>
          <Progress
            id={`p-${s.id}`}
            label={name}
            limitNano={BigInt(s.spec.limitNano)}
            spentNano={s.spentNano}
            heldNano={s.heldNano}
            format={p.format}
          />
          <p>
            <span class={`badge ${state?.kind}`}>{state?.text}</span>
          </p>
        </section>
      )}
      {!p.form.editable && (
        <p class="notice" role="status">
          You can see this budget; owners and admins can change it.
        </p>
      )}
      <BudgetForm form={p.form} />
    </>
  );
}
