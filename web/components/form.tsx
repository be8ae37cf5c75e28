// Form parts: every input has a label; a field's error sits beside it and is tied to it with
// aria-describedby; the CSRF token rides in a hidden field so forms work without JavaScript.
import type { Child } from "hono/jsx";

export function CsrfField({ token }: { token: string }) {
  return <input type="hidden" name="_csrf" value={token} />;
}

export type FieldProps = {
  name: string;
  label: string;
  type?: "text" | "email" | "password" | "url" | "date";
  value?: string;
  error?: string | null;
  hint?: string;
  autocomplete?: string;
  required?: boolean;
  inputmode?: "numeric" | "text";
  pattern?: string;
};

export function Field(p: FieldProps) {
  const errorId = `${p.name}-error`;
  return (
    <label>
      {p.label}
      {p.hint && <span class="hint">{p.hint}</span>}
      <input
        type={p.type ?? "text"}
        name={p.name}
        id={p.name}
        value={p.type === "password" ? undefined : p.value}
        autocomplete={p.autocomplete}
        required={p.required ?? true}
        inputmode={p.inputmode}
        pattern={p.pattern}
        aria-invalid={p.error ? "true" : undefined}
        aria-describedby={p.error ? errorId : undefined}
      />
      <FieldError name={p.name} error={p.error} />
    </label>
  );
}

/** A field's error, beside it; the field points at it with aria-describedby `<name>-error`. */
export function FieldError({ name, error }: { name: string; error: string | null | undefined }) {
  return error ? (
    <span class="field-error" id={`${name}-error`}>
      {error}
    </span>
  ) : null;
}

/** A labelled select with its error beside it. A value the options lack (say, from an address)
 * is still offered, so the form shows what was asked. */
export function SelectField(p: {
  name: string;
  label: string;
  value: string | undefined;
  options: readonly { value: string; label: string }[];
  error?: string;
  hint?: string;
}) {
  const options =
    p.value && !p.options.some((o) => o.value === p.value)
      ? [...p.options, { value: p.value, label: p.value }]
      : p.options;
  return (
    <label>
      {p.label}
      {p.hint && <span class="hint">{p.hint}</span>}
      <select
        name={p.name}
        id={p.name}
        aria-invalid={p.error ? "true" : undefined}
        aria-describedby={p.error ? `${p.name}-error` : undefined}
      >
        {options.map((o) => (
          <option value={o.value} selected={o.value === p.value}>
            {o.label}
          </option>
        ))}
      </select>
      <FieldError name={p.name} error={p.error} />
    </label>
  );
}

export function Notice({ kind, children }: { kind?: "error" | "ok" | "warn"; children?: Child }) {
  return (
    <div class={kind ? `notice ${kind}` : "notice"} role={kind === "error" ? "alert" : "status"}>
      {children}
    </div>
  );
}

/** A one-button form that posts to `action` (sign out a session, revoke, remove …). */
export function PostButton(p: { action: string; csrf: string; label: string; kind?: "secondary" | "danger" }) {
  return (
    <form class="inline" method="post" action={p.action}>
      <CsrfField token={p.csrf} />
      <button class={p.kind ?? "secondary"} type="submit">
        {p.label}
      </button>
    </form>
  );
}

/** A role picker; with `hint` its label is the small kind (inside a row of buttons). */
export function RoleSelect(p: {
  roles: readonly string[];
  value?: string;
  name?: string;
  label: string;
  hint?: boolean;
}) {
  return (
    <label>
      {p.hint ? <span class="hint">{p.label}</span> : p.label}
      <select name={p.name ?? "role"}>
        {p.roles.map((r) => (
          <option value={r} selected={r === p.value}>
            {r}
          </option>
        ))}
      </select>
    </label>
  );
}
