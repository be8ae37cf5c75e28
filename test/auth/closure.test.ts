// Closing an organisation (POST /org/settings/close) and the hourly job (workers/auth/purge.ts),
// driven through the Worker's own scheduled handler with a moved clock: closing stops every
// session, admin token and proxy key at once; 30 days later every row the organisation owned
// is gone from D1 and its ledger is empty, and so are the people who belonged only to it.
import { archiverFor } from "../../workers/archive/index.ts";
import { env } from "cloudflare:workers";
import { createScheduledController, runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { ledgerFor } from "../../workers/ledger/index.ts";
import outlay from "../../workers/index.ts";
import { testTag, upstreamCalls, waitForEvent, worker } from "../helpers.ts";
import { Browser, openLink, signIn } from "./browser.ts";
import {
  addMember,
  api,
  browser,
  count,
  createToken,
  invite,
  newOrg,
  roleIn,
  userByEmail,
  waitForAudit,
  type Org,
  type Person,
} from "./orgs.ts";

const DAY_MS = 24 * 60 * 60 * 1000;
const CRON = "17 * * * *";

/** Runs the Worker's hourly job as the cron trigger would at `at`. */
async function runHourlyJob(at: number): Promise<void> {
  await outlay.scheduled(createScheduledController({ scheduledTime: at, cron: CRON }), env);
}

/** Every table of the migrations with a tenant_id column (the rows an organisation owns). */
function tenantTables(): string[] {
  const tables = new Set<string>();
  for (const migration of env.TEST_MIGRATIONS) {
    for (const query of migration.queries) {
      const create = /CREATE TABLE (\w+) \(([\s\S]*)\)/.exec(query);
      if (create?.[1] && /^\s*tenant_id\s/m.test(create[2] ?? "")) tables.add(create[1]);
      const alter = /ALTER TABLE (\w+) ADD COLUMN tenant_id\b/.exec(query);
      if (alter?.[1]) tables.add(alter[1]);
      // A table rebuilt under a new shape: created as x_new, the old one dropped, x_new renamed.
      const dropped = /DROP TABLE (\w+)/.exec(query);
      if (dropped?.[1]) tables.delete(dropped[1]);
      const renamed = /ALTER TABLE (\w+) RENAME TO (\w+)/.exec(query);
      if (renamed?.[1] && renamed[2] && tables.delete(renamed[1])) tables.add(renamed[2]);
    }
  }
  return [...tables].sort();
}

/** Rows per tenant-owned table for one tenant. */
async function rowsOf(tenantId: string, tables = tenantTables()): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of tables)
    counts[table] = await count(`SELECT COUNT(*) AS n FROM ${table} WHERE tenant_id = ?`, tenantId);
  return counts;
}

function tenantRow(tenantId: string) {
  return env.DB.prepare("SELECT id, closed_at, purge_at FROM tenants WHERE id = ?")
    .bind(tenantId)
    .first<{ id: string; closed_at: number | null; purge_at: number | null }>();
}

function chat(key: string, headers: Record<string, string> = {}) {
  return worker("/openai/v1/chat/completions", {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...headers },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello" }] }),
  });
}

/** What a ledger still holds: its keys, or null when the call fails (its tables are gone). */
async function ledgerKeys(tenantId: string): Promise<number | null> {
  try {
    return (await ledgerFor(env, tenantId).listKeys()).length;
  } catch {
    return null;
  }
}

/** Rows in every table of a ledger's own SQLite storage (its internal _cf_ tables aside). */
function ledgerRows(tenantId: string): Promise<number> {
  return runInDurableObject(ledgerFor(env, tenantId), (_ledger, state) => {
    const sql = state.storage.sql;
    const tables = sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
      .toArray()
      .filter((t) => !t.name.startsWith("_cf_") && !t.name.startsWith("sqlite_"));
    let rows = 0;
    for (const t of tables) rows += sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM "${t.name}"`).one().n;
    return rows;
  });
}

async function signInAgain(b: Browser, address: string) {
  expect((await signIn(b, address)).status).toBe(303);
  expect((await b.get("/account")).status).toBe(200);
}

/** Sets up an organisation that can be called through: an admin token from the UI, the openai
 * provider pointed at the demo upstream, a proxy key, a budget. */
async function withGateway(org: Org) {
  const { token, id: tokenId } = await createToken(org.owner.b, "admin", "gateway setup");
  const provider = await api(token, "/providers/openai", {
    method: "PUT",
    json: { api_key: "demo-openai-credential-0000", base_url: `${env.UPSTREAM_URL}/openai/v1` },
  });
  expect(provider.status).toBe(200);
  const keyRes = await api(token, "/keys", { method: "POST", json: { name: "closure key" } });
  expect(keyRes.status).toBe(201);
  const { key } = (await keyRes.json()) as { key: string };
  expect(
    (await api(token, "/budgets", { method: "POST", json: { name: "b", window: "daily", limit_usd: "5" } })).status,
  ).toBe(201);
  return { token, tokenId, key };
}

describe("closing and purging an organisation", () => {
  let closing: Org;
  let staying: Org;
  let admin: Person;
  let member: Person;
  /** Owner of `staying`, also a viewer of `closing`. */
  let both: Person;
  let bothInStaying: Browser;
  let gateway: { token: string; key: string };
  let stayingGateway: { token: string; key: string };
  let openInvitation: string;
  let closedAt: number;

  beforeAll(async () => {
    closing = await newOrg("Closing");
    staying = await newOrg("Staying");
    admin = await addMember(closing, "admin");
    member = await addMember(closing, "member");
    stayingGateway = await withGateway(staying);
    await invite(staying.owner.b, "member");
    gateway = await withGateway(closing);
    openInvitation = (await invite(closing.owner.b, "member")).path;
    // Staying's owner joins Closing as a viewer (their browser's session moves there) and keeps
    // a second session in Staying.
    both = staying.owner;
    bothInStaying = new Browser({ source: "198.51.103.1" });
    await signInAgain(bothInStaying, both.email);
    const inv = await invite(closing.owner.b, "viewer", both.email);
    await openLink(both.b, inv.path);
    const joined = await both.b.post("/invite");
    if (joined.status !== 303) throw new Error(`joining Closing: ${joined.status}`);
  }, 60_000);

  it("lists the tenant-owned tables from the migrations", () => {
    expect(tenantTables()).toEqual(
      expect.arrayContaining(["admin_tokens", "api_keys", "audit_events", "memberships", "sessions", "usage_packs"]),
    );
  });

  it("calls go through before the organisation is closed", async () => {
    const res = await chat(gateway.key);
    expect(res.status).toBe(200);
    const requestId = res.headers.get("x-outlay-request-id") ?? "";
    await waitForEvent(closing.tenantId, requestId);
    expect((await chat(stayingGateway.key)).status).toBe(200);
  });

  it("only the owner closes, and only with the exact name", async () => {
    for (const who of [admin, member, both]) {
      const page = await who.b.post("/org/settings/close", { confirm: closing.name });
      expect(page.status).toBe(403);
    }
    for (const confirm of ["", closing.name.toLowerCase(), `${closing.name}x`, staying.name]) {
      const page = await closing.owner.b.post("/org/settings/close", { confirm });
      expect({ confirm, status: page.status }).toEqual({ confirm, status: 400 });
      expect(page.html).toContain("Type the organisation");
    }
    expect(await tenantRow(closing.tenantId)).toMatchObject({ closed_at: null, purge_at: null });
    expect((await api(gateway.token, "/keys")).status).toBe(200);
    expect((await member.b.get("/org/members")).status).toBe(200);
  });

  it("closing stops every session, token, key and link of the organisation at once", async () => {
    const before = Date.now();
    const page = await closing.owner.b.post("/org/settings/close", { confirm: closing.name });
    expect(page.status).toBe(303);
    expect(page.location).toBe("/account");
    const row = await tenantRow(closing.tenantId);
    expect(row?.closed_at).toBeGreaterThanOrEqual(before);
    closedAt = row?.closed_at ?? 0;
    expect(row?.purge_at).toBe(closedAt + 29 * DAY_MS);
    expect(await count("SELECT COUNT(*) AS n FROM sessions WHERE tenant_id = ?", closing.tenantId)).toBe(0);

    // Everyone whose session was in it is signed out of it.
    for (const who of [closing.owner, admin, member, both]) {
      const next = await who.b.get("/org/members");
      expect(next.status).toBe(303);
      expect(next.location).toMatch(/^\/login/);
    }
    // Signed in again, a person with no other organisation has none to see.
    await signInAgain(member.b, member.email);
    const none = await member.b.get("/org/members");
    expect(none.status).toBe(303);
    expect(none.location).toBe("/account");
    // Someone who belongs to another organisation lands there, and cannot switch back.
    await signInAgain(both.b, both.email);
    const there = await both.b.get("/org/members");
    expect(there.html).toContain(`Members of ${staying.name}`);
    expect(there.html).not.toContain(closing.name);
    expect((await both.b.post("/org/switch", { tenant_id: closing.tenantId })).status).toBe(403);
    expect((await bothInStaying.get("/org/settings")).status).toBe(200);

    const tag = testTag();
    const refused = await chat(gateway.key, tag.headers);
    expect(refused.status).toBe(401);
    expect(await upstreamCalls(tag.id)).toEqual([]);
    for (const res of [
      await api(gateway.token, "/keys"),
      await api(gateway.token, "/budgets", { method: "POST", json: {} }),
    ]) {
      expect(res.status).toBe(401);
    }
    expect((await new Browser().get(openInvitation)).status).toBe(404);

    const closed = await waitForAudit(closing.tenantId, "org.closed", closing.tenantId);
    expect(closed).toMatchObject({ actor_kind: "user", actor_id: closing.owner.userId });
    expect(closed.parsed).toMatchObject({ keysRevoked: 1 });
    // The other organisation goes on.
    expect((await chat(stayingGateway.key)).status).toBe(200);
    expect((await api(stayingGateway.token, "/keys")).status).toBe(200);
  });

  describe("the hourly purge", () => {
    const tables = tenantTables();
    let stayingBefore: Record<string, number>;
    const onlyClosing = () => [closing.owner, admin, member];

    beforeAll(async () => {
      // Rows no page makes for a closed organisation, so every table has one to purge: a
      // leftover session, an SSO configuration, identity and pending request, recovery codes.
      const far = Date.now() + 365 * DAY_MS;
      const now = Date.now();
      await env.DB.batch([
        env.DB.prepare(
          `INSERT INTO sessions (token_hash, id, user_id, tenant_id, stage, created_at, last_seen_at, expires_at)
           VALUES (?, ?, ?, ?, 'full', ?, ?, ?)`,
        ).bind(
          `leftover-${closing.tenantId}`,
          `leftover${closing.tenantId}`,
          member.userId,
          closing.tenantId,
          now,
          now,
          far,
        ),
        env.DB.prepare(
          `INSERT INTO sso_configs (tenant_id, issuer, client_id, client_secret, default_role, updated_at)
           VALUES (?, 'https://idp.example', 'client', 'sealed', 'member', ?)`,
        ).bind(closing.tenantId, now),
        env.DB.prepare(
          "INSERT INTO sso_identities (tenant_id, issuer, subject, user_id, created_at) VALUES (?, 'https://idp.example', 'sub-1', ?, ?)",
        ).bind(closing.tenantId, admin.userId, now),
        env.DB.prepare(
          "INSERT INTO sso_requests (state_hash, tenant_id, nonce, code_verifier, expires_at) VALUES (?, ?, 'n', 'v', ?)",
        ).bind(`state-${closing.tenantId}`, closing.tenantId, far),
        env.DB.prepare("INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES (?, ?, ?)").bind(
          member.userId,
          `code-${member.userId}`,
          now,
        ),
        env.DB.prepare("INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES (?, ?, ?)").bind(
          both.userId,
          `code-${both.userId}`,
          now,
        ),
        // A webhook endpoint with a message and its attempt (the API refuses a closed organisation).
        env.DB.prepare(
          `INSERT INTO webhook_endpoints (tenant_id, id, url, event_types, secret, secret_hint, created_at, updated_at)
           VALUES (?, 'wh_left', 'https://hooks.example/x', NULL, 'sealed', 'abcd', ?, ?)`,
        ).bind(closing.tenantId, now, now),
        env.DB.prepare(
          `INSERT INTO webhook_messages (tenant_id, id, endpoint_id, seq, type, payload, status, attempts, created_at)
           VALUES (?, 'msg_left', 'wh_left', 1, 'org.closed', '{}', 'failed', 1, ?)`,
        ).bind(closing.tenantId, now),
        env.DB.prepare(
          `INSERT INTO webhook_attempts (tenant_id, message_id, endpoint_id, attempt, at, status_code, latency_ms, error_class)
           VALUES (?, 'msg_left', 'wh_left', 1, ?, 503, 12, 'http_status')`,
        ).bind(closing.tenantId, now),
        // Cloud-bill rows: an import with a part of an open upload, its period and lines, the AWS
        // connection and a period it imported (the API refuses a closed organisation).
        env.DB.prepare(
          `INSERT INTO cloud_imports (tenant_id, id, source, file_name, status, created_by, created_at, upload_id, part_size)
           VALUES (?, 'leftoverimpt', 'upload', 'bill.csv', 'queued', 'system', ?, 'upload-1', 52428800)`,
        ).bind(closing.tenantId, now),
        env.DB.prepare(
          "INSERT INTO cloud_import_parts (tenant_id, import_id, part_number, etag, size) VALUES (?, 'leftoverimpt', 1, 'e', 1)",
        ).bind(closing.tenantId),
        env.DB.prepare(
          "INSERT INTO cloud_periods (tenant_id, period_key, import_id, replaced_at) VALUES (?, 'aws|1|2026-11', 'leftoverimpt', ?)",
        ).bind(closing.tenantId, now),
        env.DB.prepare(
          `INSERT INTO cloud_lines (tenant_id, import_id, period_key, day, provider, category, charge_type, currency, cost_nano, usage_micro, line_count)
           VALUES (?, 'leftoverimpt', 'aws|1|2026-11', ?, 'aws', 'bedrock', 'usage', 'USD', 1000, 0, 1)`,
        ).bind(closing.tenantId, now),
        env.DB.prepare(
          `INSERT INTO cloud_connections (tenant_id, external_id, role_arn, bucket, region, state, created_at, updated_at)
           VALUES (?, ?, 'arn:aws:iam::111122223333:role/x', 'b', 'us-east-1', 'connected', ?, ?)`,
        ).bind(closing.tenantId, `outlay-left-${closing.tenantId}`, now, now),
        env.DB.prepare(
          `INSERT INTO cloud_export_periods (tenant_id, billing_period, manifest_key, fingerprint, import_id, synced_at)
           VALUES (?, '2026-11', 'm', 'f', 'leftoverimpt', ?)`,
        ).bind(closing.tenantId, now),
      ]);
      await env.CLOUD_BILLS.put(`bills/${closing.tenantId}/leftoverimpt`, "a bill waiting for its import");
      // A reset link made before closing would also be left; make one for a row in password_resets.
      await env.DB.prepare(
        `INSERT INTO password_resets (token_hash, tenant_id, user_id, created_by, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      )
        .bind(`reset-${closing.tenantId}`, closing.tenantId, member.userId, closing.owner.userId, now, far)
        .run();
      stayingBefore = await rowsOf(
        staying.tenantId,
        tables.filter((t) => t !== "sessions"),
      );
    });

    it("has something to purge in every tenant-owned table, and an archive", async () => {
      const rows = await rowsOf(closing.tenantId, tables);
      expect(tables.filter((table) => !rows[table])).toEqual([]);
      await archiverFor(env, closing.tenantId).sealNow();
      expect((await env.AUDIT_ARCHIVE.list({ prefix: `audit/${closing.tenantId}/` })).objects.length).toBeGreaterThan(
        0,
      );
      expect(await ledgerKeys(closing.tenantId)).toBe(1);
      expect(await ledgerRows(closing.tenantId)).toBeGreaterThan(0);
    });

    it("one day after closing, deletes nothing", async () => {
      const before = await rowsOf(closing.tenantId, tables);
      await runHourlyJob(closedAt + DAY_MS);
      expect(await rowsOf(closing.tenantId, tables)).toEqual(before);
      expect(await tenantRow(closing.tenantId)).not.toBeNull();
      for (const who of onlyClosing()) expect((await userByEmail(who.email))?.id).toBe(who.userId);
      expect(await ledgerKeys(closing.tenantId)).toBe(1);
    });

    it("30 days after closing, every row of the organisation is gone, and its ledger is empty", async () => {
      await runHourlyJob(closedAt + 30 * DAY_MS);
      const rows = await rowsOf(closing.tenantId, tables);
      expect(rows).toEqual(Object.fromEntries(tables.map((table) => [table, 0])));
      expect(await tenantRow(closing.tenantId)).toBeNull();
      expect(await ledgerRows(closing.tenantId)).toBe(0);
      expect([null, 0]).toContain(await ledgerKeys(closing.tenantId));
      expect((await env.AUDIT_ARCHIVE.list({ prefix: `audit/${closing.tenantId}/` })).objects).toEqual([]);
      expect((await env.CLOUD_BILLS.list({ prefix: `bills/${closing.tenantId}/` })).objects).toEqual([]);
      expect(await archiverFor(env, closing.tenantId).status()).toMatchObject({ treeSize: 0, pending: 0 });
    });

    it("deletes the people who belonged only to it, and keeps the one who belongs elsewhere", async () => {
      for (const who of onlyClosing()) {
        expect({ [who.email]: await userByEmail(who.email) }).toEqual({ [who.email]: null });
        expect(await count("SELECT COUNT(*) AS n FROM sessions WHERE user_id = ?", who.userId)).toBe(0);
      }
      expect(await count("SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = ?", member.userId)).toBe(0);
      expect(await userByEmail(both.email)).not.toBeNull();
      expect(await roleIn(staying.tenantId, both.userId)).toBe("owner");
      expect(await roleIn(closing.tenantId, both.userId)).toBeNull();
      expect(await count("SELECT COUNT(*) AS n FROM recovery_codes WHERE user_id = ?", both.userId)).toBe(1);
      const b = browser();
      await signInAgain(b, both.email);
      expect((await b.get("/org/members")).html).toContain(`Members of ${staying.name}`);
      // The deleted can no longer sign in.
      expect((await signIn(browser(), member.email)).status).toBe(401);
    });

    it("leaves another organisation untouched", async () => {
      expect(
        await rowsOf(
          staying.tenantId,
          tables.filter((t) => t !== "sessions"),
        ),
      ).toEqual(stayingBefore);
      expect(await tenantRow(staying.tenantId)).toMatchObject({ closed_at: null, purge_at: null });
      expect(await ledgerKeys(staying.tenantId)).toBe(1);
      expect((await api(stayingGateway.token, "/keys")).status).toBe(200);
      // Its calls reach the provider, under their test id (so the checks of "nothing reaches
      // the provider" in this file can fail).
      const tag = testTag();
      expect((await chat(stayingGateway.key, tag.headers)).status).toBe(200);
      expect(await upstreamCalls(tag.id)).toHaveLength(1);
    });

    it("a purged organisation's key and token stay refused, and nothing reaches the provider", async () => {
      const tag = testTag();
      // The ledger's live instance has no tables left: the gateway cannot check the key and
      // refuses it (503) until the instance is gone; a fresh one finds no such key (401).
      expect([401, 503]).toContain((await chat(gateway.key, tag.headers)).status);
      expect(await upstreamCalls(tag.id)).toEqual([]);
      expect((await api(gateway.token, "/keys")).status).toBe(401);
    });
  });
});

describe("the hourly job's housekeeping", () => {
  it("deletes expired sessions and SSO requests, and nothing before they expire", async () => {
    const org = await newOrg("Housekeeping");
    const b = new Browser({ source: "198.51.103.2" });
    await signInAgain(b, org.owner.email);
    const now = Date.now();
    await env.DB.batch([
      env.DB.prepare(
        "INSERT INTO sso_requests (state_hash, tenant_id, nonce, code_verifier, expires_at) VALUES (?, ?, 'n', 'v', ?)",
      ).bind(`soon-${org.tenantId}`, org.tenantId, now + 10 * 60 * 1000),
      env.DB.prepare(
        "INSERT INTO sso_requests (state_hash, tenant_id, nonce, code_verifier, expires_at) VALUES (?, ?, 'n', 'v', ?)",
      ).bind(`later-${org.tenantId}`, org.tenantId, now + 2 * 60 * 60 * 1000),
    ]);
    const sessions = () => count("SELECT COUNT(*) AS n FROM sessions WHERE user_id = ?", org.owner.userId);
    const requests = () => count("SELECT COUNT(*) AS n FROM sso_requests WHERE tenant_id = ?", org.tenantId);
    expect(await sessions()).toBe(2);

    await runHourlyJob(now);
    expect({ sessions: await sessions(), requests: await requests() }).toEqual({ sessions: 2, requests: 2 });

    await runHourlyJob(now + 11 * 60 * 1000);
    expect({ sessions: await sessions(), requests: await requests() }).toEqual({ sessions: 2, requests: 1 });

    // Sessions live 12 hours at most.
    await runHourlyJob(now + 13 * 60 * 60 * 1000);
    expect({ sessions: await sessions(), requests: await requests() }).toEqual({ sessions: 0, requests: 0 });
    expect(await tenantRow(org.tenantId)).not.toBeNull();
    expect(await roleIn(org.tenantId, org.owner.userId)).toBe("owner");
  });
});
