// Form pieces the budget, policy and rate-limit pages share: selects and checkboxes with their
// errors beside them (ids `<field>-error`, like components/form.tsx), the key picker, the tabs of
// the Policies page, the delete confirmation and the "no such rule" page.
import type { Child } from "hono/jsx";
import { CsrfField, FieldError, Notice, SelectField } from "../../components/form.tsx";

export type FormValues = Record<string, string>;
export type FieldErrors = Record<string, string>;

/** One of the organisation's proxy keys, as offered in a key picker. */
export type KeyOption = { id: string; name: string; prefix: string; revoked: boolean };

/** A stored rule in a list: its spec and when it last changed (formatted). */
export type RuleListItem<S> = { id: string; spec: S; updatedAt: string };

/** What every rule form gets: where it posts, its values and errors, and the org's keys. */
export type RuleFormProps = {
  csrf: string;
  /** the form posts here (`/budgets` or `/budgets/<id>`) */
  action: string;
  values: FormValues;
  errors: FieldErrors;
  keys: KeyOption[];
  /** false: shown read-only (a role without config:write) */
  editable: boolean;
  /** editing an existing rule (not creating one) */
  existing: boolean;
};

export function CheckField(p: { name: string; label: string; checked: boolean; hint?: string; error?: string }) {
  return (
    <div class="check-field">
      <label class="check">
        <input
          type="checkbox"
          name={p.name}
          id={p.name}
          value="on"
          checked={p.checked}
          aria-describedby={p.hint ? `${p.name}-hint` : undefined}
        />
        {p.label}
      </label>
      {p.hint && (
        <span class="hint" id={`${p.name}-hint`}>
          {p.hint}
        </span>
      )}
      <FieldError name={p.name} error={p.error} />
    </div>
  );
}

/** The org's keys to pick from; `anyLabel` is the empty choice. Revoked keys are offered only
 * when the rule already names one (so editing it does not silently change the key). */
export function KeySelect(p: { keys: KeyOption[]; value: string | undefined; error?: string; anyLabel: string }) {
  const keys = p.keys.filter((k) => !k.revoked || k.id === p.value);
  return (
    <SelectField
      name="key_id"
      label="Key"
      value={p.value ?? ""}
      error={p.error}
      options={[
        { value: "", label: p.anyLabel },
        ...keys.map((k) => ({ value: k.id, label: `${k.name} (${k.prefix}…)${k.revoked ? " — revoked" : ""}` })),
      ]}
    />
  );
}

/** A key id as people know it: its name and prefix (or the bare id if the key is gone). */
export function keyLabel(keys: KeyOption[], id: string): string {
  const key = keys.find((k) => k.id === id);
  if (!key) return `key ${id}`;
  return `key “${key.name}” (${key.prefix}…)${key.revoked ? ", revoked" : ""}`;
}

/** The form's frame: errors summary, the CSRF token, read-only fieldset for those who may not write. */
export function RuleForm(p: { form: RuleFormProps; noun: string; listPath: string; children?: Child }) {
  const f = p.form;
  const count = Object.keys(f.errors).length;
  return (
    <form class="stack rule-form" method="post" action={f.action}>
      {count > 0 && (
        <Notice kind="error">
          {f.errors.form ??
            `The ${p.noun} was not saved: ${count === 1 ? "one field needs" : `${count} fields need`} a change (see below).`}
        </Notice>
      )}
      <CsrfField token={f.csrf} />
      <fieldset class="plain" disabled={!f.editable}>
        <legend class="skip">{`The ${p.noun}`}</legend>
        <div class="stack">{p.children}</div>
      </fieldset>
      {f.editable && (
        <div class="actions">
          <button type="submit">{f.existing ? "Save changes" : `Create ${p.noun}`}</button>{" "}
          <a href={p.listPath}>Cancel</a>
          {f.existing && (
            <>
              {" "}
              <a class="danger-link" href={`${f.action}/delete`}>
                Delete this {p.noun}…
              </a>
            </>
          )}
        </div>
      )}
    </form>
  );
}

/** Policies and rate limits are two tabs of the navigation's "Policies" entry. */
export function RuleTabs({ current }: { current: "policies" | "rate-limits" }) {
  return (
    <nav class="tabs" aria-label="Policies and rate limits">
      <a href="/policies" aria-current={current === "policies" ? "page" : undefined}>
        Policies
      </a>
      <a href="/rate-limits" aria-current={current === "rate-limits" ? "page" : undefined}>
        Rate limits
      </a>
    </nav>
  );
}

export function DeleteRulePage(p: {
  csrf: string;
  noun: string;
  name: string;
  action: string;
  listPath: string;
  effect: string;
}) {
  return (
    <>
      <h1>
        Delete the {p.noun} “{p.name}”?
      </h1>
      <p>{p.effect}</p>
      <p>The audit trail keeps the record of it. This cannot be undone.</p>
      <form class="inline" method="post" action={p.action}>
        <CsrfField token={p.csrf} />
        <button class="danger" type="submit">
          Delete the {p.noun}
        </button>
      </form>{" "}
      <a href={p.listPath}>Cancel</a>
    </>
  );
}

export function NoSuchRulePage(p: { noun: string; listPath: string; listName: string }) {
  return (
    <>
      <h1>No such {p.noun}</h1>
      <p>
        This organisation has no {p.noun} at this address. It may have been deleted, or the link belongs to another
        organisation.
      </p>
      <p>
        <a href={p.listPath}>Back to {p.listName}</a>
      </p>
    </>
  );
}

/** The notice a list shows after a change (`?saved=<id>` names the rule, `?deleted=1`). */
export function ChangeNotice(p: { saved: string | null; deleted: boolean; noun: string }) {
  if (p.saved) return <Notice kind="ok">{`Saved the ${p.noun} “${p.saved}”.`}</Notice>;
  if (p.deleted) return <Notice kind="ok">{`The ${p.noun} was deleted.`}</Notice>;
  return null;
}
