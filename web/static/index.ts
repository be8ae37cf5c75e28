// Vendored static assets (htmx from the htmx.org package, the stylesheet), served under names that
// carry the first 12 hex digits of their SHA-256, so they can be cached for a year: a new file
// is a new name. test/web/static.test.ts checks the vendored htmx is the installed package's.
import { Hono } from "hono";
import css from "./app.css";
import script from "./outlay-ui.js";
import upload from "./cloud-upload.js";
import htmx from "./htmx.min.js";

type Asset = { name: string; body: string; type: string };

const SOURCES = [
  { base: "app", extension: "css", body: css, type: "text/css; charset=utf-8" },
  { base: "htmx", extension: "js", body: htmx, type: "text/javascript; charset=utf-8" },
  { base: "app", extension: "js", body: script, type: "text/javascript; charset=utf-8" },
  { base: "cloud-upload", extension: "js", body: upload, type: "text/javascript; charset=utf-8" },
] as const;

async function digest(body: string): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body)));
  return Array.from(hash.slice(0, 6), (b) => b.toString(16).padStart(2, "0")).join("");
}

let assets: Promise<Asset[]> | null = null;

/** The hashed assets, computed once per isolate. */
export function staticAssets(): Promise<Asset[]> {
  assets ??= Promise.all(
    SOURCES.map(async (s) => ({
      body: s.body,
      type: s.type,
      name: `${s.base}.${await digest(s.body)}.${s.extension}`,
    })),
  );
  return assets;
}

/** The URL paths of the stylesheet, htmx and our scripts (the layout's, the cloud page's upload). */
export async function assetPaths(): Promise<{ css: string; htmx: string; app: string; upload: string }> {
  const [style, htmxFile, appFile, uploadFile] = await staticAssets();
  return {
    css: `/static/${style?.name}`,
    htmx: `/static/${htmxFile?.name}`,
    app: `/static/${appFile?.name}`,
    upload: `/static/${uploadFile?.name}`,
  };
}

export const staticRoutes = new Hono<{ Bindings: Env }>();

staticRoutes.get("/:name", async (c) => {
  const asset = (await staticAssets()).find((a) => a.name === c.req.param("name"));
  if (!asset) return c.text("Not found", 404);
  return c.body(asset.body, 200, {
    "content-type": asset.type,
    "cache-control": "public, max-age=31536000, immutable",
    "x-content-type-options": "nosniff",
  });
});
