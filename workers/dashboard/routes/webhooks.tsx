// /webhooks: the organisation's webhook endpoints (issue 13 §4). Everyone who may read sees the
// list and each endpoint's page with its delivery attempts; config:write adds the forms: add (the
// signing secret shown once), edit, enable / disable, rotate the secret (the new one shown once),
// send a test, recover, replay, delete after a confirmation page. Every operation is the one the
// API calls (workers/webhooks/), with the signed-in person as the audit actor, and looks the id up
// within the signed-in organisation only: another organisation's endpoint is a 404.
import { Hono, type Context } from "hono";
import { AppError } from "../../../shared/errors.ts";
import { offset } from "../../../shared/windows.ts";
import { can } from "../../auth/index.ts";
import {
  createWebhook,
  DEFAULT_OVERLAP_HOURS,
  deleteWebhook,
  getWebhook,
  HIGH_VOLUME_TYPES,
  listDeliveries,
  listWebhooks,
  recoverWebhook,
  replayWebhook,
  rotateWebhookSecret,
  sendTestMessage,
  updateWebhook,
  type WebhookCaller,
  type WebhookView,
} from "../../webhooks/index.ts";
import { requireAccount, requireCsrf, requirePermission, signedInOrg, type WebEnv } from "../guards.ts";
import { orgFormat } from "../org-format.ts";
import type { Format } from "../../../web/format.ts";
import { DeleteWebhookPage, NoWebhookPage, WebhookPage } from "../../../web/pages/webhook-endpoint.tsx";
import {
  SecretShownOncePage,
  WebhooksPage,
  type FormState,
  type PageNotice,
  type WebhookItem,
  type WebhooksView,
} from "../../../web/pages/webhooks.tsx";

export const webhookPages = new Hono<WebEnv>();
webhookPages.use("/webhooks/*", requireAccount, requireCsrf, requirePermission("read"));
webhookPages.post("/webhooks/*", requirePermission("config:write"));
webhookPages.get("/webhooks/:id/delete", requirePermission("config:write"));

const DELIVERIES_PAGE = "50";

function caller(c: Context<WebEnv>): WebhookCaller {
  const { a, org } = signedInOrg(c);
  return { env: c.env, tenantId: org.tenantId, actor: { kind: "user", id: a.user.id } };
}

function item(e: WebhookView, f: Format): WebhookItem {
  const time = (iso: string | null) => (iso === null ? null : f.dateTime(Date.parse(iso)));
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    types: e.event_types,
    enabled: e.enabled,
    disabledReason: e.disabled_reason,
    disabledSince: time(e.disabled_at),
    failingSince: time(e.failing_since),
    secretHint: e.secret_hint,
    previousSecretUntil: time(e.previous_secret_valid_until),
    lastSuccess: time(e.last_success_at),
    created: time(e.created_at) ?? "",
  };
}

/** What every webhooks page needs: the form token, whether to show forms, the high-volume types. */
function pageBase(c: Context<WebEnv>): Omit<WebhooksView, "endpoints"> {
  const { a, org } = signedInOrg(c);
  return { csrf: a.csrf, mayWrite: can(org.role, "config:write"), highVolume: HIGH_VOLUME_TYPES };
}

async function listView(c: Context<WebEnv>, f: Format): Promise<WebhooksView> {
  return { ...pageBase(c), endpoints: (await listWebhooks(caller(c))).map((e) => item(e, f)) };
}

/** The form's fields (last value of each) and its ticked event types. */
async function readForm(c: Context<WebEnv>): Promise<{ values: Record<string, string>; types: string[] }> {
  const body = await c.req.parseBody({ all: true });
  const values: Record<string, string> = {};
  let types: string[] = [];
  for (const [name, value] of Object.entries(body)) {
    const strings = (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === "string");
    if (name === "event_types") types = strings;
    else if (strings.length > 0) values[name] = strings.at(-1) ?? "";
  }
  return { values, types };
}

/** An operation's error beside its field (`param`, "event_types.0" → event_types), else on the form. */
function errorsOf(error: AppError, fields: readonly string[]): Record<string, string> {
  const field = error.param?.split(".")[0] ?? "";
  return { [fields.includes(field) ? field : "form"]: error.message };
}

function statusOf(error: AppError): 400 | 404 | 409 {
  return error.status === 404 || error.status === 409 ? error.status : 400;
}

function notFound(c: Context<WebEnv>) {
  c.status(404);
  return c.render(<NoWebhookPage />, { title: "Webhooks" });
}

async function listPage(c: Context<WebEnv>, extra: { notice?: PageNotice; form?: FormState }, status: 200 | 400 | 409) {
  const view = await listView(c, await orgFormat(c));
  c.status(status);
  return c.render(<WebhooksPage v={view} notice={extra.notice} form={extra.form} />, { title: "Webhooks" });
}

webhookPages.get("/webhooks", async (c) => {
  const notice: PageNotice | undefined =
    c.req.query("deleted") === "1" ? { kind: "ok", text: "Deleted the endpoint." } : undefined;
  return listPage(c, { notice }, 200);
});

webhookPages.post("/webhooks", async (c) => {
  const { values, types } = await readForm(c);
  const created = await createWebhook(caller(c), {
    url: values.url ?? "",
    description: values.description ?? "",
    ...(types.length > 0 ? { event_types: types } : {}),
  });
  if (created instanceof AppError) {
    const form = { errors: errorsOf(created, ["url", "description", "event_types"]), values, types };
    return listPage(c, { form }, statusOf(created) === 409 ? 409 : 400);
  }
  const f = await orgFormat(c);
  return c.render(<SecretShownOncePage endpoint={item(created.endpoint, f)} secret={created.secret} />, {
    title: "Endpoint added",
  });
});

/** What a redirect after a change says (?done=, with ?n= for the messages sent again). */
function doneNotice(c: Context<WebEnv>): PageNotice | undefined {
  const n = /^\d{1,6}$/.test(c.req.query("n") ?? "") ? Number(c.req.query("n")) : 0;
  const messages = `${n} message${n === 1 ? "" : "s"}`;
  const texts: Record<string, string> = {
    saved: "Saved the changes.",
    enabled: "Enabled: new events are delivered again.",
    disabled: "Disabled: nothing is sent to this endpoint until it is enabled again.",
    tested: "A test message is on its way; its attempt appears below within a few seconds (reload).",
    recovered: `Sending ${messages} again.`,
    replayed: `Replaying ${messages}.`,
  };
  const text = texts[c.req.query("done") ?? ""];
  return text ? { kind: "ok", text } : undefined;
}

type DetailExtra = { notice?: PageNotice; form?: FormState };

async function detailPage(c: Context<WebEnv>, extra: DetailExtra = {}, status: 200 | 400 | 409 = 200) {
  const id = c.req.param("id") ?? "";
  const found = await getWebhook(caller(c), id);
  if (found instanceof AppError) return notFound(c);
  const f = await orgFormat(c);
  const before = c.req.query("before");
  const page = await listDeliveries(caller(c), id, { before, limit: DELIVERIES_PAGE });
  const seconds = new Intl.DateTimeFormat(f.locale, { dateStyle: "medium", timeStyle: "medium", timeZone: f.timeZone });
  const endpoint = item(found, f);
  // The edit form shows the endpoint as stored unless it is the form that came back.
  const form: FormState = {
    errors: extra.form?.errors,
    values: { url: found.url, description: found.description, ...extra.form?.values },
    types: extra.form?.types ?? found.event_types ?? [],
  };
  const view = {
    ...pageBase(c),
    endpoints: [],
    endpoint,
    deliveries:
      page instanceof AppError
        ? []
        : page.data.map((d) => ({
            at: seconds.format(Date.parse(d.at)),
            seq: d.seq,
            type: d.type,
            attempt: d.attempt,
            status: d.status_code,
            latencyMs: d.latency_ms,
            error: d.error,
          })),
    older:
      page instanceof AppError || page.next_before === null
        ? null
        : new URLSearchParams({ before: page.next_before }).toString(),
    paged: before !== undefined,
    timeZone: f.timeZone,
    defaultOverlapHours: DEFAULT_OVERLAP_HOURS,
  };
  const notice = page instanceof AppError ? { kind: "error" as const, text: page.message } : extra.notice;
  c.status(page instanceof AppError ? 400 : status);
  return c.render(<WebhookPage v={view} notice={notice} form={form} />, { title: "Webhook endpoint" });
}

webhookPages.get("/webhooks/:id", async (c) => detailPage(c, { notice: doneNotice(c) }));

/** After a change: back to the endpoint's page, saying what was done. */
function done(c: Context<WebEnv>, what: string, n?: number) {
  const id = encodeURIComponent(c.req.param("id") ?? "");
  return c.redirect(`/webhooks/${id}?done=${what}${n === undefined ? "" : `&n=${n}`}`, 303);
}

/** An operation's refusal on the endpoint's page, beside the field it names. */
function refused(c: Context<WebEnv>, error: AppError, fields: readonly string[], form: Omit<FormState, "errors">) {
  if (error.code === "not_found") return notFound(c);
  const errors = errorsOf(error, fields);
  const notice: PageNotice | undefined = errors.form ? { kind: "error", text: errors.form } : undefined;
  return detailPage(c, { notice, form: errors.form ? form : { ...form, errors } }, statusOf(error) === 409 ? 409 : 400);
}

/** A field this page checks itself (numbers, the local time) before any operation runs. */
function unreadable(c: Context<WebEnv>, errors: Record<string, string>, values: Record<string, string>) {
  return detailPage(c, { form: { errors, values } }, 400);
}

webhookPages.post("/webhooks/:id/edit", async (c) => {
  const { values, types } = await readForm(c);
  const updated = await updateWebhook(caller(c), c.req.param("id"), {
    url: values.url ?? "",
    description: values.description ?? "",
    event_types: types.length > 0 ? types : null,
  });
  if (updated instanceof AppError) return refused(c, updated, ["url", "description", "event_types"], { values, types });
  return done(c, "saved");
});

for (const [path, enabled] of [
  ["enable", true],
  ["disable", false],
] as const) {
  webhookPages.post(`/webhooks/:id/${path}`, async (c) => {
    const updated = await updateWebhook(caller(c), c.req.param("id"), { enabled });
    if (updated instanceof AppError) return refused(c, updated, [], {});
    return done(c, enabled ? "enabled" : "disabled");
  });
}

webhookPages.post("/webhooks/:id/rotate", async (c) => {
  const { values } = await readForm(c);
  const hours = (values.overlap_hours ?? "").trim();
  if (!/^\d{1,3}$/.test(hours)) return unreadable(c, { overlap_hours: "Enter whole hours from 0 to 168." }, values);
  const rotated = await rotateWebhookSecret(caller(c), c.req.param("id"), { overlap_hours: Number(hours) });
  if (rotated instanceof AppError) return refused(c, rotated, ["overlap_hours"], { values });
  const f = await orgFormat(c);
  const endpoint = item(rotated.endpoint, f);
  return c.render(
    <SecretShownOncePage
      endpoint={endpoint}
      secret={rotated.secret}
      rotated={{ previousUntil: endpoint.previousSecretUntil }}
    />,
    { title: "New signing secret" },
  );
});

webhookPages.post("/webhooks/:id/test", async (c) => {
  const sent = await sendTestMessage(caller(c), c.req.param("id"));
  if (sent instanceof AppError) return refused(c, sent, [], {});
  return done(c, "tested");
});

const LOCAL_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;

/** A datetime-local value ("2026-12-01T09:30") read on the wall clock of `timeZone`, as UTC ms. */
export function zonedInstant(text: string, timeZone: string): number | null {
  const m = LOCAL_TIME.exec(text);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map((part) => Number(part ?? "0"));
  const wall = Date.UTC(y ?? 0, (mo ?? 1) - 1, d ?? 1, h ?? 0, mi ?? 0, s ?? 0);
  if (new Date(wall).toISOString().slice(0, 16) !== text.slice(0, 16)) return null;
  // The offset at the wall time read as UTC is at most one change away: look again from there.
  return wall - offset(timeZone, wall - offset(timeZone, wall));
}

webhookPages.post("/webhooks/:id/recover", async (c) => {
  const { values } = await readForm(c);
  const f = await orgFormat(c);
  const since = zonedInstant((values.since ?? "").trim(), f.timeZone);
  if (since === null) return unreadable(c, { since: "Pick a date and time." }, values);
  const recovered = await recoverWebhook(caller(c), c.req.param("id"), { since: new Date(since).toISOString() });
  if (recovered instanceof AppError) return refused(c, recovered, ["since"], { values });
  return done(c, "recovered", recovered.messages);
});

webhookPages.post("/webhooks/:id/replay", async (c) => {
  const { values } = await readForm(c);
  const [from, to] = [(values.from_seq ?? "").trim(), (values.to_seq ?? "").trim()];
  const errors: Record<string, string> = {};
  for (const [name, text] of [
    ["from_seq", from],
    ["to_seq", to],
  ] as const) {
    if (!/^[1-9]\d{0,15}$/.test(text)) errors[name] = "Enter a seq: a whole number from 1.";
  }
  if (Object.keys(errors).length > 0) return unreadable(c, errors, values);
  const replayed = await replayWebhook(caller(c), c.req.param("id"), { from_seq: Number(from), to_seq: Number(to) });
  if (replayed instanceof AppError) return refused(c, replayed, ["from_seq", "to_seq"], { values });
  return done(c, "replayed", replayed.messages);
});

webhookPages.get("/webhooks/:id/delete", async (c) => {
  const found = await getWebhook(caller(c), c.req.param("id"));
  if (found instanceof AppError) return notFound(c);
  const { a } = signedInOrg(c);
  return c.render(<DeleteWebhookPage csrf={a.csrf} endpoint={item(found, await orgFormat(c))} />, {
    title: "Delete endpoint",
  });
});

webhookPages.post("/webhooks/:id/delete", async (c) => {
  const problem = await deleteWebhook(caller(c), c.req.param("id"));
  if (problem) return notFound(c);
  return c.redirect("/webhooks?deleted=1", 303);
});
