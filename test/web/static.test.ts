// Vendored assets: htmx is the npm package's file, byte for byte; names carry the content hash;
// they are served with a year of immutable caching; pages link exactly those names.
import { describe, expect, it } from "vitest";
import packaged from "../../node_modules/htmx.org/dist/htmx.min.js?raw";
import vendored from "../../web/static/htmx.min.js?raw";
import { staticAssets } from "../../web/static/index.ts";
import { worker } from "../helpers.ts";

async function sha256Hex(text: string): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(hash, (b) => b.toString(16).padStart(2, "0")).join("");
}

describe("static assets", () => {
  it("web/static/htmx.min.js is the installed htmx.org package's file", () => {
    expect(vendored.length).toBeGreaterThan(10_000);
    expect(vendored).toBe(packaged);
  });

  it("names carry the first 12 hex digits of the content's SHA-256", async () => {
    const assets = await staticAssets();
    expect(assets.map((a) => a.name.replace(/\.[0-9a-f]{12}\./, ".#."))).toEqual([
      "app.#.css",
      "htmx.#.js",
      "app.#.js",
      "cloud-upload.#.js",
    ]);
    for (const asset of assets) {
      expect(asset.name).toContain(`.${(await sha256Hex(asset.body)).slice(0, 12)}.`);
    }
  });

  it("serves each with a long immutable cache, and 404 for any other name", async () => {
    for (const asset of await staticAssets()) {
      const res = await worker(`/static/${asset.name}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
      expect(res.headers.get("content-type")).toBe(asset.type);
      expect(await res.text()).toBe(asset.body);
    }
    const stale = await worker("/static/htmx.000000000000.js");
    expect(stale.status).toBe(404);
    await stale.text();
  });

  it("pages link the hashed names and run no inline script", async () => {
    const res = await worker("/login");
    const html = await res.text();
    const [css, js] = (await staticAssets()).map((a) => a.name);
    expect(html).toContain(`href="/static/${css}"`);
    expect(html).toContain(`src="/static/${js}"`);
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(res.headers.get("content-security-policy")).toContain("script-src 'self'");
  });
});
