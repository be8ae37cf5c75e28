// Money and dates in the organisation's locale and time zone (web/format.ts), and the
// organisation settings form that chooses them.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ledgerFor } from "../../workers/ledger/index.ts";
import { formatFor } from "../../web/format.ts";
import { addMember, newOrg, waitForAudit } from "../auth/orgs.ts";

const USD = 1_000_000_000n;

describe("formatFor", () => {
  it("writes money in the locale, exactly, with cent fractions kept for small amounts", () => {
    const us = formatFor("en-US", "UTC");
    expect(us.usd(1234n * USD + 560_000_000n)).toBe("$1,234.56");
    expect(us.usd(0n)).toBe("$0.00");
    expect(us.usd(1_500n)).toBe("$0.000002");
    expect(us.usd(25_000_000n)).toBe("$0.03");
    // 2^63 nano-USD does not fit a double exactly: the decimal string keeps every digit.
    expect(us.usd(9_007_199_254_740_993n * USD)).toBe("$9,007,199,254,740,993.00");
    const de = formatFor("de-DE", "Europe/Berlin");
    expect(de.usd(1234n * USD + 560_000_000n)).toBe("1.234,56\u00a0$");
    expect(de.count(1234567)).toBe("1.234.567");
  });

  it("writes dates in the organisation's time zone", () => {
    const at = Date.parse("2026-03-01T03:30:00Z");
    expect(formatFor("en-US", "UTC").date(at)).toBe("Mar 1, 2026");
    expect(formatFor("en-US", "America/New_York").date(at)).toBe("Feb 28, 2026");
    expect(formatFor("en-GB", "Asia/Tokyo").hour(at)).toBe("1 Mar, 12:30");
  });
});

describe("/org/settings/region", () => {
  it("saves the time zone and locale through the ledger, audited with the person", async () => {
    const org = await newOrg("Region");
    await org.owner.b.get("/org/settings");
    const page = await org.owner.b.post("/org/settings/region", { time_zone: "Europe/Berlin", locale: "de-DE" });
    expect(page.status).toBe(200);
    expect(page.html).toContain("Time zone and locale saved.");
    expect(await ledgerFor(env, org.tenantId).getSettings()).toMatchObject({
      timeZone: "Europe/Berlin",
      locale: "de-DE",
    });
    const audit = await waitForAudit(org.tenantId, "settings.updated", null);
    expect(audit).toMatchObject({ actor_kind: "user", actor_id: org.owner.userId });
  });

  it("puts each error beside its field and keeps what was typed", async () => {
    const org = await newOrg("Region");
    await org.owner.b.get("/org/settings");
    const page = await org.owner.b.post("/org/settings/region", { time_zone: "Mars/Olympus", locale: "xx-@@" });
    expect(page.status).toBe(400);
    expect(page.html).toMatch(/id="time_zone-error">Enter an IANA time zone/);
    expect(page.html).toMatch(/id="locale-error">Enter a locale/);
    expect(page.html).toContain('value="Mars/Olympus"');
    expect(await ledgerFor(env, org.tenantId).getSettings()).toMatchObject({ timeZone: "UTC", locale: "en-US" });
  });

  it("is read-only for members", async () => {
    const org = await newOrg("Region");
    const member = await addMember(org, "member");
    const page = await member.b.get("/org/settings");
    expect(page.html).not.toContain('action="/org/settings/region"');
    expect(page.html).toContain("UTC · en-US");
  });
});
