// /webhooks: route tests in workerd — an endpoint added through the page with its signing secret
// shown once (never in the list or its page afterwards), URL refusals beside the field, edit,
// disable and enable (also from the notice of an endpoint the receiver disabled with 410 Gone),
// rotation showing the new secret, a test message the receiver (demo/webhook-receiver, with the
// `standardwebhooks` package) verifies and the deliveries table showing it, recover in the
// organisation's time zone, replay, the older pager, delete after a confirmation; viewers read
// only, other organisations get 404, signed-out browsers go to sign in, CSRF is required.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { zonedInstant } from "../../workers/dashboard/routes/webhooks.tsx";
import { Browser } from "../auth/browser.ts";
import { addMember, newOrg, waitForAudit, type Org } from "../auth/orgs.ts";
import { hookName, hookUrl, plan, receivedUntil } from "../webhooks/support.ts";

/** A form post with repeated fields (the event-type checkboxes), as a browser sends it. */
function send(b: Browser, path: string, fields: [string, string][], csrf = true) {
  const form = new URLSearchParams(fields);
  if (csrf && b.csrf && !form.has("_csrf")) form.set("_csrf", b.csrf);
  return b.request(path, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", origin: new URL(b.base).origin },
    body: form.toString(),
  });
}

/** The text of the error element of a field (`<field>-error`). */
function fieldError(html: string, field: string): string {
  return new RegExp(`id="${field}-error">([^<]+)<`).exec(html)?.[1] ?? "";
}

function shownSecret(html: string): string | null {
  return /<p class="secret" id="new-secret">(whsec_[^<]+)<\/p>/.exec(html)?.[1] ?? null;
}

async function endpointId(org: Org, url: string): Promise<string> {
  const row = await env.DB.prepare("SELECT id FROM webhook_endpoints WHERE tenant_id = ? AND url = ?")
    .bind(org.tenantId, url)
    .first<{ id: string }>();
  if (!row) throw new Error(`no endpoint ${url}`);
  return row.id;
}

/** Adds an endpoint for a fresh receiver hook through the page; the receiver verifies with its secret. */
async function addEndpoint(org: Org, fields: [string, string][] = []) {
  const name = hookName();
  const url = hookUrl(name);
  await org.owner.b.get("/webhooks");
  const page = await send(org.owner.b, "/webhooks", [["url", url], ...fields]);
  const secret = shownSecret(page.html);
  if (page.status !== 200 || !secret) throw new Error(`add: ${page.status} ${page.html.slice(0, 300)}`);
  await plan(name, { secrets: [secret] });
  return { name, url, secret, page, id: await endpointId(org, url) };
}

/** An endpoint that takes only an event these tests never cause: it receives test messages only. */
const QUIET: [string, string][] = [["event_types", "org.closed"]];

/** Reads a page until `done` holds for its HTML. */
async function pageUntil(b: Browser, path: string, done: (html: string) => boolean, timeoutMs = 10_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const page = await b.get(path);
    if (done(page.html) || Date.now() > until) return page;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("/webhooks: add, list, change", () => {
  it("adds an endpoint and shows its secret once, never in the list or on its page afterwards", async () => {
    const org = await newOrg("HookAdd");
    const empty = await org.owner.b.get("/webhooks");
    expect(empty.status).toBe(200);
    expect(empty.html).toContain("No endpoints yet");
    expect(empty.html).toContain('<a href="/webhooks" aria-current="page">Webhooks</a>');
    // The event types come grouped, the high-volume ones marked.
    expect(empty.html).toMatch(/<code>call\.admitted<\/code><span class="badge warn">high volume<\/span>/);
    expect(empty.html).toContain("<legend>webhook</legend>");

    const { page, secret, url, id } = await addEndpoint(org, [
      ["description", "ops pager"],
      ["event_types", "key.created"],
      ["event_types", "rule.created"],
    ]);
    expect(page.headers.get("cache-control")).toBe("no-store");
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(page.html).toContain("it is never shown again");
    expect(page.html).toContain("standardwebhooks");
    expect(page.html).toContain("docs/webhooks.md");

    const list = await org.owner.b.get("/webhooks");
    expect(list.html).toContain(url);
    expect(list.html).toContain("ops pager");
    expect(list.html).toContain("<code>key.created</code>, <code>rule.created</code>");
    expect(list.html).toContain(`<code>whsec_…${secret.slice(-4)}</code>`);
    expect(list.html).toContain('<span class="badge ok">active</span>');
    expect(list.html).not.toContain(secret);
    const detail = await org.owner.b.get(`/webhooks/${id}`);
    expect(detail.status).toBe(200);
    expect(detail.html).toContain("No delivery attempts yet.");
    expect(detail.html).not.toContain(secret);
    expect(detail.html).not.toContain(secret.slice(6, -4));

    const audit = await waitForAudit(org.tenantId, "webhook.created", id);
    expect(audit).toMatchObject({ actor_kind: "user", actor_id: org.owner.userId });
  });

  it("refuses a URL it must not call beside the field, with 400, and stores nothing", async () => {
    const org = await newOrg("HookBad");
    await org.owner.b.get("/webhooks");
    const page = await send(org.owner.b, "/webhooks", [
      ["url", "https://10.0.0.1/"],
      ["description", "kept"],
      ["event_types", "key.revoked"],
    ]);
    expect(page.status).toBe(400);
    expect(fieldError(page.html, "url")).toContain("The webhook URL");
    expect(page.html).toContain('value="https://10.0.0.1/"');
    expect(page.html).toContain('value="kept"');
    expect(page.html).toMatch(/value="key\.revoked" id="type-key\.revoked" checked/);
    expect(shownSecret(page.html)).toBeNull();
    const unknown = await send(org.owner.b, "/webhooks", [
      ["url", hookUrl(hookName())],
      ["event_types", "no.such_type"],
    ]);
    expect(unknown.status).toBe(400);
    expect(fieldError(unknown.html, "event_types")).toContain("event_types");
    const rows = await env.DB.prepare("SELECT COUNT(*) AS n FROM webhook_endpoints WHERE tenant_id = ?")
      .bind(org.tenantId)
      .first<{ n: number }>();
    expect(rows?.n).toBe(0);
  });

  it("edits, disables and enables an endpoint", async () => {
    const org = await newOrg("HookEdit");
    const { id } = await addEndpoint(org, [["event_types", "key.created"]]);
    const other = hookUrl(hookName());
    const edited = await send(org.owner.b, `/webhooks/${id}/edit`, [
      ["url", other],
      ["description", "renamed"],
    ]);
    expect([edited.status, edited.location]).toEqual([303, `/webhooks/${id}?done=saved`]);
    const after = await org.owner.b.get(edited.location ?? "");
    expect(after.html).toContain("Saved the changes.");
    expect(after.html).toContain(other);
    expect(after.html).toContain("renamed");
    expect(after.html).toContain("All but high-volume");

    const refused = await send(org.owner.b, `/webhooks/${id}/edit`, [["url", "http://example.com/hook"]]);
    expect(refused.status).toBe(400);
    expect(fieldError(refused.html, "url")).toContain("https");

    const disabled = await send(org.owner.b, `/webhooks/${id}/disable`, []);
    expect(disabled.location).toBe(`/webhooks/${id}?done=disabled`);
    const list = await org.owner.b.get("/webhooks");
    expect(list.html).toContain('<span class="badge danger">disabled</span>');
    expect(list.html).toContain("it was disabled by hand");
    expect(list.html).toContain(`action="/webhooks/${id}/enable"`);
    const test = await send(org.owner.b, `/webhooks/${id}/test`, []);
    expect(test.status).toBe(409);
    expect(test.html).toContain("The endpoint is disabled; enable it first.");

    const enabled = await send(org.owner.b, `/webhooks/${id}/enable`, []);
    expect(enabled.location).toBe(`/webhooks/${id}?done=enabled`);
    const back = await org.owner.b.get("/webhooks");
    expect(back.html).toContain('<span class="badge ok">active</span>');
    expect(back.html).not.toContain(`action="/webhooks/${id}/enable"`);
    await waitForAudit(org.tenantId, "webhook.disabled", id);
  });

  it("says so at the top when the receiver disabled an endpoint with 410 Gone, and enables it from there", async () => {
    const org = await newOrg("HookGone");
    const { id, name, secret } = await addEndpoint(org);
    await plan(name, { secrets: [secret], fail: { status: 410, count: 1 } });
    expect((await send(org.owner.b, `/webhooks/${id}/test`, [])).status).toBe(303);
    const list = await pageUntil(org.owner.b, "/webhooks", (html) => html.includes("410 Gone"));
    expect(list.html).toContain("have stopped</strong>: the receiver answered 410 Gone");
    expect(list.html).toContain(`action="/webhooks/${id}/enable"`);
    const enabled = await send(org.owner.b, `/webhooks/${id}/enable`, []);
    expect(enabled.status).toBe(303);
    expect((await org.owner.b.get("/webhooks")).html).not.toContain("410 Gone");
  });
});

describe("/webhooks/:id: deliveries and operations", () => {
  it("sends a test message the receiver verifies; the deliveries table shows it", async () => {
    const org = await newOrg("HookTest");
    const { id, name } = await addEndpoint(org, QUIET);
    const sent = await send(org.owner.b, `/webhooks/${id}/test`, []);
    expect([sent.status, sent.location]).toEqual([303, `/webhooks/${id}?done=tested`]);
    const [delivery] = await receivedUntil(name, (d) => d.length === 1);
    expect(delivery).toMatchObject({ verifiedWith: 0, answered: 200, type: "webhook.test" });
    const page = await pageUntil(org.owner.b, `/webhooks/${id}`, (html) => html.includes("<code>webhook.test</code>"));
    expect(page.html).toContain("<code>webhook.test</code>");
    expect(page.html).toContain('<span class="badge ok">200</span>');
    expect(page.html).not.toContain("No delivery attempts yet.");
  });

  it("rotates the secret: the new one is shown once and signs, the old one too during the overlap", async () => {
    const org = await newOrg("HookRotate");
    const { id, name, secret } = await addEndpoint(org, QUIET);
    await org.owner.b.get(`/webhooks/${id}`);
    const bad = await send(org.owner.b, `/webhooks/${id}/rotate`, [["overlap_hours", "999"]]);
    expect(bad.status).toBe(400);
    expect(fieldError(bad.html, "overlap_hours")).toContain("168");
    const rotated = await send(org.owner.b, `/webhooks/${id}/rotate`, [["overlap_hours", "24"]]);
    expect(rotated.status).toBe(200);
    const fresh = shownSecret(rotated.html);
    expect(fresh).toMatch(/^whsec_/);
    expect(fresh).not.toBe(secret);
    expect(rotated.html).toContain("carry a signature with the previous secret too until");
    await plan(name, { secrets: [fresh ?? "", secret] });
    expect((await send(org.owner.b, `/webhooks/${id}/test`, [])).status).toBe(303);
    const [delivery] = await receivedUntil(name, (d) => d.length === 1);
    expect(delivery?.verifiedWith).toBe(0);
    // The old secret still signs during the overlap: a receiver that has only it accepts too.
    await plan(name, { secrets: [secret] });
    expect((await send(org.owner.b, `/webhooks/${id}/test`, [])).status).toBe(303);
    const both = await receivedUntil(name, (d) => d.length === 2);
    expect(both[1]?.verifiedWith).toBe(0);
    const detail = await org.owner.b.get(`/webhooks/${id}`);
    expect(detail.html).toContain(`<code>whsec_…${fresh?.slice(-4)}</code>`);
    expect(detail.html).toContain("the previous one signs too until");
    expect(detail.html).not.toContain(fresh ?? "?");
    await waitForAudit(org.tenantId, "webhook.secret_rotated", id);
  });

  it("recovers failed messages since a time in the organisation's zone, and replays a seq range", async () => {
    const org = await newOrg("HookRecover");
    const { id, name } = await addEndpoint(org, QUIET);
    expect((await send(org.owner.b, `/webhooks/${id}/test`, [])).status).toBe(303);
    const [first] = await receivedUntil(name, (d) => d.length === 1);
    // The message as exhausted (every attempt failed), which recover sends again.
    await env.DB.prepare("UPDATE webhook_messages SET status = 'failed' WHERE tenant_id = ? AND endpoint_id = ?")
      .bind(org.tenantId, id)
      .run();
    const local = (ms: number) => new Date(ms).toISOString().slice(0, 16); // the org's zone is UTC
    const later = await send(org.owner.b, `/webhooks/${id}/recover`, [["since", local(Date.now() + 3_600_000)]]);
    expect(later.location).toBe(`/webhooks/${id}?done=recovered&n=0`);
    const recovered = await send(org.owner.b, `/webhooks/${id}/recover`, [["since", local(Date.now() - 3_600_000)]]);
    expect(recovered.location).toBe(`/webhooks/${id}?done=recovered&n=1`);
    expect((await org.owner.b.get(recovered.location ?? "")).html).toContain("Sending 1 message again.");
    const again = await receivedUntil(name, (d) => d.length === 2);
    expect(again[1]?.id).toBe(first?.id);
    expect(again[1]?.verifiedWith).toBe(0);

    const noTime = await send(org.owner.b, `/webhooks/${id}/recover`, [["since", "yesterday"]]);
    expect(noTime.status).toBe(400);
    expect(fieldError(noTime.html, "since")).toContain("Pick a date and time");
    const backwards = await send(org.owner.b, `/webhooks/${id}/replay`, [
      ["from_seq", "5"],
      ["to_seq", "2"],
    ]);
    expect(backwards.status).toBe(400);
    expect(fieldError(backwards.html, "to_seq")).toContain("must not be below from_seq");
    expect(backwards.html).toContain('value="5"');
    const notNumber = await send(org.owner.b, `/webhooks/${id}/replay`, [
      ["from_seq", "x"],
      ["to_seq", "2"],
    ]);
    expect(fieldError(notNumber.html, "from_seq")).toContain("whole number");
    const replayed = await send(org.owner.b, `/webhooks/${id}/replay`, [
      ["from_seq", "1"],
      ["to_seq", "1"],
    ]);
    expect(replayed.location).toBe(`/webhooks/${id}?done=replayed&n=0`);
  });

  it("reads a datetime-local value on the organisation's wall clock", () => {
    expect(zonedInstant("2026-07-01T09:30", "Europe/Paris")).toBe(Date.UTC(2026, 6, 1, 7, 30));
    expect(zonedInstant("2026-01-15T09:30", "Europe/Paris")).toBe(Date.UTC(2026, 0, 15, 8, 30));
    expect(zonedInstant("2026-11-01T23:15:20", "America/New_York")).toBe(Date.UTC(2026, 10, 2, 4, 15, 20));
    expect(zonedInstant("2026-12-02T10:00", "Asia/Kolkata")).toBe(Date.UTC(2026, 11, 2, 4, 30));
    expect(zonedInstant("2026-12-02T10:00", "UTC")).toBe(Date.UTC(2026, 11, 2, 10));
    expect(["2026-02-30T10:00", "2026-12-02", "2026-12-02T25:00", "x"].map((t) => zonedInstant(t, "UTC"))).toEqual([
      null,
      null,
      null,
      null,
    ]);
  });

  it("pages the delivery attempts: Older, then Newest", async () => {
    const org = await newOrg("HookPager");
    const { id } = await addEndpoint(org);
    const now = Date.now();
    const message = `msg_test_pager${id}`;
    await env.DB.prepare(
      `INSERT INTO webhook_messages (tenant_id, id, endpoint_id, seq, type, payload, status, attempts, created_at)
       VALUES (?, ?, ?, NULL, 'webhook.test', '{}', 'failed', 60, ?)`,
    )
      .bind(org.tenantId, message, id, now)
      .run();
    const attempts = Array.from({ length: 60 }, (_, i) =>
      env.DB.prepare(
        `INSERT INTO webhook_attempts (tenant_id, message_id, endpoint_id, attempt, at, status_code, latency_ms, error_class)
         VALUES (?, ?, ?, ?, ?, 503, 7, 'http_status')`,
      ).bind(org.tenantId, message, id, i + 1, now - (60 - i) * 1000),
    );
    await env.DB.batch(attempts);
    const newest = await org.owner.b.get(`/webhooks/${id}`);
    expect(newest.html.match(/<td>http_status<\/td>/g)).toHaveLength(50);
    const older = /href="(\/webhooks\/[^"?]+\?before=[^"#]+)#deliveries">Older</.exec(newest.html)?.[1];
    expect(older).toBeDefined();
    const page2 = await org.owner.b.get((older ?? "").replaceAll("&amp;", "&"));
    expect(page2.status).toBe(200);
    expect(page2.html.match(/<td>http_status<\/td>/g)).toHaveLength(10);
    expect(page2.html).toContain(`href="/webhooks/${id}#deliveries">Newest</a>`);
    expect(page2.html).not.toContain(">Older</a>");
  });

  it("deletes an endpoint after a confirmation page", async () => {
    const org = await newOrg("HookDelete");
    const { id, url } = await addEndpoint(org);
    const confirm = await org.owner.b.get(`/webhooks/${id}/delete`);
    expect(confirm.status).toBe(200);
    expect(confirm.html).toContain(`Delete the endpoint ${url}?`);
    expect(confirm.html).toContain(`action="/webhooks/${id}/delete"`);
    const deleted = await send(org.owner.b, `/webhooks/${id}/delete`, []);
    expect([deleted.status, deleted.location]).toEqual([303, "/webhooks?deleted=1"]);
    const list = await org.owner.b.get(deleted.location ?? "");
    expect(list.html).toContain("Deleted the endpoint.");
    expect(list.html).not.toContain(url);
    expect((await org.owner.b.get(`/webhooks/${id}`)).status).toBe(404);
    await waitForAudit(org.tenantId, "webhook.deleted", id);
  });
});

const POSTS = ["edit", "enable", "disable", "rotate", "test", "recover", "replay", "delete"];

/** Fields that would be accepted, so only the guard or the lookup can refuse. */
const VALID: Record<string, [string, string][]> = {
  edit: [["url", "https://hooks.example.com/x"]],
  rotate: [["overlap_hours", "1"]],
  recover: [["since", "2026-01-01T00:00"]],
  replay: [
    ["from_seq", "1"],
    ["to_seq", "2"],
  ],
};

describe("/webhooks: who may do what", () => {
  it("viewers see the list and the endpoint's page without forms, and are refused every post (403)", async () => {
    const org = await newOrg("HookViewer");
    const { id, url } = await addEndpoint(org);
    const viewer = await addMember(org, "viewer");
    const list = await viewer.b.get("/webhooks");
    expect(list.status).toBe(200);
    expect(list.html).toContain(url);
    expect(list.html).not.toContain('action="/webhooks"');
    const detail = await viewer.b.get(`/webhooks/${id}`);
    expect(detail.status).toBe(200);
    expect(detail.html).not.toContain(`action="/webhooks/${id}/`);
    expect((await viewer.b.get(`/webhooks/${id}/delete`)).status).toBe(403);
    const create = await send(viewer.b, "/webhooks", [["url", hookUrl(hookName())]]);
    const statuses = [create.status];
    for (const action of POSTS)
      statuses.push((await send(viewer.b, `/webhooks/${id}/${action}`, VALID[action] ?? [])).status);
    expect(statuses).toEqual(Array.from({ length: POSTS.length + 1 }, () => 403));
    expect((await org.owner.b.get(`/webhooks/${id}`)).html).toContain('<span class="badge ok">active</span>');
  });

  it("another organisation gets 404 for the endpoint's page and every post to it", async () => {
    const a = await newOrg("HookA");
    const b = await newOrg("HookB");
    const { id, url } = await addEndpoint(a);
    expect((await b.owner.b.get("/webhooks")).html).not.toContain(url);
    const got = await b.owner.b.get(`/webhooks/${id}`);
    expect(got.status).toBe(404);
    expect(got.html).not.toContain(url);
    expect((await b.owner.b.get(`/webhooks/${id}/delete`)).status).toBe(404);
    const statuses: number[] = [];
    for (const action of POSTS) {
      const page = await send(b.owner.b, `/webhooks/${id}/${action}`, VALID[action] ?? []);
      statuses.push(page.status);
      expect(page.html).not.toContain(url);
    }
    expect(statuses).toEqual(POSTS.map(() => 404));
    const row = await env.DB.prepare("SELECT url, disabled_at FROM webhook_endpoints WHERE tenant_id = ? AND id = ?")
      .bind(a.tenantId, id)
      .first<{ url: string; disabled_at: number | null }>();
    expect(row).toEqual({ url, disabled_at: null });
  });

  it("sends a signed-out browser to sign in, and refuses a post without the CSRF token", async () => {
    const anonymous = new Browser();
    const list = await anonymous.get("/webhooks");
    expect([list.status, list.location]).toEqual([303, "/login?next=%2Fwebhooks"]);
    const page = await anonymous.get("/webhooks/wh_x");
    expect([page.status, page.location]).toEqual([303, "/login?next=%2Fwebhooks%2Fwh_x"]);
    expect((await send(anonymous, "/webhooks", [["url", "https://hooks.example.com/x"]])).status).toBe(401);

    const org = await newOrg("HookCsrf");
    await org.owner.b.get("/webhooks");
    const none = await send(org.owner.b, "/webhooks", [["url", "https://hooks.example.com/x"]], false);
    expect(none.status).toBe(403);
    const forged = await send(org.owner.b, "/webhooks", [
      ["url", "https://hooks.example.com/x"],
      ["_csrf", "0".repeat(64)],
    ]);
    expect(forged.status).toBe(403);
    const rows = await env.DB.prepare("SELECT COUNT(*) AS n FROM webhook_endpoints WHERE tenant_id = ?")
      .bind(org.tenantId)
      .first<{ n: number }>();
    expect(rows?.n).toBe(0);
  });
});
