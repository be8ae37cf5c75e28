// /keys: list, create (members and up; optionally with allowed models and rate limits; the key
// shown once), rotate and revoke (each after a confirmation page; admins and owners any key,
// members the keys they created). Keys are changed through the tenant's ledger exactly as the
// API changes them, with the signed-in person as the audit actor.
import { Hono, type Context } from "hono";
import { actorRef } from "../../../shared/audit.ts";
import { parseDimensionList } from "../../../shared/dimensions.ts";
import { AppError } from "../../../shared/errors.ts";
import { ID_PATTERN, newId } from "../../../shared/ids.ts";
import {
  type ApiKeyRow,
  findKeyRow,
  type KeyDetailRow,
  keyDimensions,
  listKeyRowsLiveFirst,
  queryRollups,
  tenantDb,
} from "../../store/index.ts";
import { windowRange } from "../../../shared/windows.ts";
import {
  createProxyKey,
  MAX_REQUESTS_PER_MINUTE,
  MAX_TOKENS_PER_MINUTE,
  proxyKeyProblem,
  revokeProxyKey,
  rotateProxyKey,
  type KeyLimits,
} from "../../services/index.ts";
import { can } from "../../auth/index.ts";
import { formValues, requireAccount, requireCsrf, requirePermission, signedInOrg, type WebEnv } from "../guards.ts";
import { type Format } from "../../../web/format.ts";
import { orgFormat } from "../org-format.ts";
import {
  DEFAULT_GRACE_SECONDS,
  GRACE_CHOICES,
  KeysPage,
  RevokeKeyPage,
  RotateKeyPage,
  type CreatedKey,
  type KeysView,
  type ReplayedRotation,
  type RotateView,
} from "../../../web/pages/keys.tsx";

export const keyPages = new Hono<WebEnv>();
keyPages.use("/keys", requireAccount, requirePermission("read"));
keyPages.use("/keys/*", requireAccount, requireCsrf, requirePermission("read"));
keyPages.post("/keys", requirePermission("keys:own"));
keyPages.post("/keys/*", requirePermission("keys:own"));

/** The previous secret while its grace period runs, for display. */
function runningGrace(f: Format, r: Pick<ApiKeyRow, "previous_hint" | "previous_until">, now: number) {
  return r.previous_until !== null && r.previous_until > now
    ? { hint: r.previous_hint, until: f.dateTime(r.previous_until) }
    : null;
}

/** Whether the signed-in person may rotate or revoke a key made by `createdBy`. */
function mayChange(c: Context<WebEnv>, createdBy: string | null): boolean {
  const { a, org } = signedInOrg(c);
  return (
    can(org.role, "keys:any") || (can(org.role, "keys:own") && createdBy === actorRef({ kind: "user", id: a.user.id }))
  );
}

async function keysView(c: Context<WebEnv>): Promise<KeysView> {
  const { a, org } = signedInOrg(c);
  const f = await orgFormat(c);
  const now = Date.now();
  const month = windowRange({ kind: "monthly" }, f.timeZone, now);
  // Last use is kept on the key by the usage consumer; this month's spend is one grouped read of
  // the rollups (daily rows for the month's whole days).
  const db = tenantDb(c.env.DB, org.tenantId);
  const [rows, spend] = await Promise.all([
    listKeyRowsLiveFirst(db),
    queryRollups(db, { from: month.start, to: month.end, groups: [{ kind: "key" }], timeZone: f.timeZone }),
  ]);
  const spent = new Map(spend.map((r) => [r.values[0], r.costNano]));
  return {
    csrf: a.csrf,
    mayCreate: can(org.role, "keys:own"),
    month: new Intl.DateTimeFormat(f.locale, { month: "long", timeZone: f.timeZone }).format(now),
    keys: rows.map((r) => ({
      id: r.id,
      name: r.name,
      prefix: r.prefix,
      hint: r.secret_hint,
      dimensions: keyDimensions(r),
      createdAt: f.date(r.created_at),
      expiresAt: r.expires_at === null ? null : f.dateTime(r.expires_at),
      revoked: r.revoked_at !== null,
      expired: r.expires_at !== null && r.expires_at <= now,
      lastUsed: r.last_used_at === null ? null : f.dateTime(r.last_used_at),
      spentThisMonth: f.usd(spent.get(r.id) ?? 0n),
      rotatedAt: r.rotated_at === null ? null : f.date(r.rotated_at),
      previous: r.revoked_at === null ? runningGrace(f, r, now) : null,
      mayChange: mayChange(c, r.created_by),
    })),
  };
}

type PageExtra = {
  created?: CreatedKey;
  replayed?: ReplayedRotation;
  errors?: Record<string, string>;
  values?: Record<string, string>;
};

async function page(
  c: Context<WebEnv>,
  extra: PageExtra = {},
  status: 200 | 400 | 403 | 404 | 409 = extra.errors ? 400 : 200,
) {
  c.status(status);
  if (extra.created) c.header("cache-control", "no-store");
  return c.render(<KeysPage view={await keysView(c)} {...extra} />, { title: "Keys" });
}

keyPages.get("/keys", (c) => page(c));

/** A whole number from a text field: null when empty, NaN when it is not one. */
function wholeNumber(text: string | undefined): number | null {
  const trimmed = (text ?? "").trim().replace(/[\s,_]/g, "");
  if (trimmed === "") return null;
  return /^\d{1,12}$/.test(trimmed) ? Number(trimmed) : Number.NaN;
}

/** The create form's limits, or messages for the fields that are not readable. */
function limitsFrom(values: Record<string, string>, f: Format, errors: Record<string, string>): KeyLimits {
  // Like the policy pages' lists: entries between commas, spaces or new lines.
  const models = (values.allow_models ?? "").split(/[\s,]+/).filter(Boolean);
  const numbers = {
    requests_per_minute: [wholeNumber(values.requests_per_minute), MAX_REQUESTS_PER_MINUTE],
    tokens_per_minute: [wholeNumber(values.tokens_per_minute), MAX_TOKENS_PER_MINUTE],
  } as const;
  for (const [field, [value, max]] of Object.entries(numbers)) {
    if (value !== null && (Number.isNaN(value) || value < 1 || value > max)) {
      errors[field] = `Write a whole number from 1 to ${f.count(max)}, or leave it empty.`;
    }
  }
  return {
    allowModels: models.length > 0 ? models : null,
    requestsPerMinute: numbers.requests_per_minute[0],
    tokensPerMinute: numbers.tokens_per_minute[0],
  };
}

/** The create form's field an API parameter's problem belongs beside. */
function formField(param: string | null): string {
  if (param?.startsWith("dimensions")) return "dimensions";
  if (param === "expires_at") return "expires";
  if (param === "allow_models" || param === "requests_per_minute" || param === "tokens_per_minute") return param;
  return "form";
}

keyPages.post("/keys", async (c) => {
  const { a, org } = signedInOrg(c);
  const values = await formValues(c);
  const errors: Record<string, string> = {};
  const name = (values.name ?? "").trim();
  if (name.length < 1 || name.length > 100) errors.name = "Name the key (1 to 100 characters).";
  const dimensions = parseDimensionList(values.dimensions ?? "");
  if (dimensions instanceof AppError) errors.dimensions = dimensions.message;
  let expiresAt: number | null = null;
  if (values.expires) {
    expiresAt = /^\d{4}-\d{2}-\d{2}$/.test(values.expires) ? Date.parse(`${values.expires}T00:00:00Z`) : Number.NaN;
    if (Number.isNaN(expiresAt)) errors.expires = "Pick a date.";
  }
  const limits = limitsFrom(values, await orgFormat(c), errors);
  if (Object.keys(errors).length === 0 && !(dimensions instanceof AppError)) {
    const input = { name, dimensions, expiresAt, limits };
    const created =
      proxyKeyProblem(input) ?? (await createProxyKey(c.env, org.tenantId, input, { kind: "user", id: a.user.id }));
    if (!(created instanceof AppError)) return page(c, { created: { name, key: created.key } });
    errors[formField(created.param)] = created.param === "expires_at" ? "Pick a day after today." : created.message;
  }
  return page(c, { errors, values });
});

function keyFor(c: Context<WebEnv>) {
  const { org } = signedInOrg(c);
  return findKeyRow(tenantDb(c.env.DB, org.tenantId), c.req.param("id") ?? "");
}

async function rotatePage(
  c: Context<WebEnv>,
  key: KeyDetailRow,
  form: { grace: number; rotationId: string; errors?: Record<string, string> },
  status: 200 | 400 = 200,
) {
  const { a } = signedInOrg(c);
  const f = await orgFormat(c);
  const now = Date.now();
  const view: RotateView = {
    csrf: a.csrf,
    id: key.id,
    name: key.name,
    prefix: key.prefix,
    hint: key.secret_hint,
    rotationId: form.rotationId,
    previous: runningGrace(f, key, now),
    blocked:
      key.revoked_at !== null
        ? "revoked"
        : key.expires_at !== null && key.expires_at <= now
          ? "expired"
          : mayChange(c, key.created_by)
            ? null
            : "not yours",
    grace: form.grace,
  };
  c.status(status);
  return c.render(<RotateKeyPage view={view} errors={form.errors} />, { title: "Rotate key" });
}

keyPages.get("/keys/:id/rotate", async (c) => {
  const key = await keyFor(c);
  if (!key) return c.redirect("/keys", 303);
  return rotatePage(c, key, { grace: DEFAULT_GRACE_SECONDS, rotationId: newId() });
});

keyPages.post("/keys/:id/rotate", async (c) => {
  const { a, org } = signedInOrg(c);
  const values = await formValues(c);
  const grace = GRACE_CHOICES.find((choice) => String(choice.seconds) === values.grace)?.seconds;
  const rotationId = values.rotation_id ?? "";
  if (grace === undefined || !ID_PATTERN.test(rotationId)) {
    const key = await keyFor(c);
    if (!key) return page(c, { errors: { form: "No such key." } }, 404);
    const errors: Record<string, string> =
      grace === undefined
        ? { grace: "Choose how long the current key keeps working." }
        : { form: "This form is incomplete. Review it and send it again." };
    return rotatePage(c, key, { grace: grace ?? DEFAULT_GRACE_SECONDS, rotationId: newId(), errors }, 400);
  }
  const rotated = await rotateProxyKey(
    c.env,
    org.tenantId,
    c.req.param("id"),
    { role: org.role, actor: { kind: "user", id: a.user.id } },
    { graceSeconds: grace, rotationId },
  );
  if (rotated instanceof AppError) {
    if (rotated.code === "forbidden") {
      const form = `Your role (${org.role}) may not do this: members may rotate only the keys they created.`;
      return page(c, { errors: { form } }, 403);
    }
    return page(c, { errors: { form: rotated.message } }, rotated.code === "conflict" ? 409 : 404);
  }
  const { record } = rotated;
  if (rotated.outcome === "replayed") return page(c, { replayed: { id: record.id, name: record.name } });
  const f = await orgFormat(c);
  const until = grace > 0 && record.previousUntil !== null ? f.dateTime(record.previousUntil) : null;
  return page(c, {
    created: { name: record.name, key: rotated.key, rotated: { previousHint: record.previousHint, until } },
  });
});

keyPages.get("/keys/:id/revoke", async (c) => {
  const { a } = signedInOrg(c);
  const key = await keyFor(c);
  if (!key || key.revoked_at !== null) return c.redirect("/keys", 303);
  return c.render(
    <RevokeKeyPage csrf={a.csrf} id={key.id} name={key.name} prefix={key.prefix} hint={key.secret_hint} />,
    { title: "Revoke key" },
  );
});

keyPages.post("/keys/:id/revoke", async (c) => {
  const { a, org } = signedInOrg(c);
  const revoked = await revokeProxyKey(c.env, org.tenantId, c.req.param("id"), {
    role: org.role,
    actor: { kind: "user", id: a.user.id },
  });
  if (revoked instanceof AppError) {
    if (revoked.code === "forbidden") {
      const form = `Your role (${org.role}) may not do this: members may revoke only the keys they created.`;
      return page(c, { errors: { form } }, 403);
    }
    return page(c, { errors: { form: revoked.message } }, 404);
  }
  return c.redirect("/keys", 303);
});
