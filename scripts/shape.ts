// The codebase's shape, measured: which imports cross a component boundary into another
// component's inner files, which shipped files hold SQL outside the store layer, and how big the
// files are. `node scripts/shape.ts` prints the report; `--check` exits 1 when any import reaches
// past a component's front door or `shared/` imports outside itself (run by `npm run check`).
//
// Components are the folders under workers/ (gateway, ledger, ingest, auth, api, dashboard,
// store, cloud, audit…); each one's index.ts is its front door. web/ holds views and shared/
// pure code: both are libraries read by path, but shared/ may import only shared/, and web/ may
// import only web/, shared/ and front doors. Which component may depend on which is MAY_IMPORT
// below. Tests may read any file (they are white-box).

import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";

const ROOT = join(dirname(new URL(import.meta.url).pathname), "..");
const SHIPPED = ["workers", "web", "shared"];
const SOURCE = /\.(ts|tsx)$/;
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)["']([^"']+)["']/g;
const SQL = /\.prepare\(|\bSELECT\s+[\w*(]|\bINSERT\s+(?:OR\s+\w+\s+)?INTO\b|\bUPDATE\s+\w+\s+SET\b|\bDELETE\s+FROM\b/;
// Which components each component may import (through their front doors). The arrows point one
// way, from the edges (entry, pages, API) inward to the data (ledger, store) and shared/, so no
// cycle can form between components. docs/architecture.md draws the same graph.
const MAY_IMPORT: Record<string, readonly string[]> = {
  entry: ["api", "archive", "auth", "cloud", "dashboard", "gateway", "ingest", "ledger", "webhooks"],
  dashboard: ["services", "cloud", "gateway", "auth", "ledger", "store", "web", "webhooks"],
  api: ["services", "archive", "auth", "cloud", "ledger", "store", "webhooks"],
  services: ["gateway", "auth", "ledger", "store"],
  gateway: ["ledger"],
  ingest: ["archive", "store", "webhooks"],
  webhooks: ["archive", "ledger", "store"],
  auth: ["archive", "cloud", "ledger", "store"],
  archive: [],
  cloud: ["ledger", "store"],
  ledger: ["store"],
  store: [],
  web: ["auth", "ledger", "services", "store"],
};
// Where SQL belongs: the store layer, and the ledger's own Durable Object storage.
const SQL_HOMES = ["workers/store/", "workers/ledger/"];

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const path = `${dir}/${name}`;
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...files(path));
    else if (SOURCE.test(name) && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

/** "workers/gateway/proxy.ts" -> "gateway"; "web/…" -> "web"; "workers/index.ts" -> "entry". */
function componentOf(path: string): string {
  const parts = path.split("/");
  if (parts[0] === "workers") return parts.length > 2 ? (parts[1] ?? "entry") : "entry";
  return parts[0] ?? "";
}

function isFrontDoor(path: string): boolean {
  const parts = path.split("/");
  return parts[0] === "workers" && parts.length === 3 && /^index\.tsx?$/.test(parts[2] ?? "");
}

function resolve(from: string, specifier: string): string | null {
  if (!specifier.startsWith(".")) return null;
  const base = normalize(join(dirname(from), specifier));
  for (const candidate of [base, `${base}.ts`, `${base}.tsx`, `${base}/index.ts`, `${base}/index.tsx`]) {
    try {
      if (statSync(join(ROOT, candidate)).isFile()) return relative(".", candidate);
    } catch {
      // not this spelling
    }
  }
  return base.replace(/\.js$/, ".ts");
}

export interface Edge {
  from: string;
  to: string;
  why: string;
}

export function boundaryEdges(all: string[]): Edge[] {
  const edges: Edge[] = [];
  for (const from of all) {
    const text = readFileSync(join(ROOT, from), "utf8");
    const fromComponent = componentOf(from);
    for (const match of text.matchAll(SPECIFIER)) {
      const to = resolve(from, match[1] ?? "");
      if (!to) continue;
      // deploy/ holds files shipped as text (the AWS role's CloudFormation template), not code.
      if (to.startsWith("deploy/") && !SOURCE.test(to)) continue;
      const toComponent = componentOf(to);
      if (fromComponent === "shared" && toComponent !== "shared") {
        edges.push({ from, to, why: "shared/ imports outside shared/" });
      } else if (fromComponent === "web" && toComponent !== "web" && toComponent !== "shared" && !isFrontDoor(to)) {
        edges.push({ from, to, why: "web/ reaches past a front door" });
      } else if (
        to.startsWith("workers/") &&
        toComponent !== fromComponent &&
        toComponent !== "entry" &&
        !isFrontDoor(to)
      ) {
        edges.push({ from, to, why: `${fromComponent} reaches into ${toComponent}` });
      } else if (
        toComponent !== fromComponent &&
        toComponent !== "shared" &&
        fromComponent in MAY_IMPORT &&
        !(MAY_IMPORT[fromComponent] ?? []).includes(toComponent)
      ) {
        edges.push({ from, to, why: `${fromComponent} may not depend on ${toComponent}` });
      } else if (to.startsWith("web/") && fromComponent !== "web" && fromComponent !== "dashboard") {
        edges.push({ from, to, why: `${fromComponent} imports views (only the dashboard renders web/)` });
      }
    }
  }
  return edges;
}

function main(): void {
  const all = SHIPPED.flatMap(files).sort();
  const edges = boundaryEdges(all);
  if (process.argv.includes("--check")) {
    for (const edge of edges) console.error(`${edge.from} -> ${edge.to}: ${edge.why}`);
    if (edges.length > 0) {
      console.error(`\n${edges.length} import(s) cross a component boundary; import the front door (index.ts).`);
      process.exit(1);
    }
    return;
  }
  const sql = all.filter(
    (path) => !SQL_HOMES.some((home) => path.startsWith(home)) && SQL.test(readFileSync(join(ROOT, path), "utf8")),
  );
  const sizes = all
    .map((path) => ({ path, lines: readFileSync(join(ROOT, path), "utf8").split("\n").length - 1 }))
    .sort((a, b) => a.lines - b.lines);
  const median = sizes[Math.floor(sizes.length / 2)];
  const pairs = new Map<string, number>();
  for (const edge of edges) pairs.set(edge.why, (pairs.get(edge.why) ?? 0) + 1);
  console.log(`shipped source files: ${all.length}`);
  console.log(`boundary-crossing imports: ${edges.length}`);
  for (const [why, count] of [...pairs].sort((a, b) => b[1] - a[1])) console.log(`  ${count}\t${why}`);
  console.log(`files with SQL outside ${SQL_HOMES.join(" and ")}: ${sql.length}`);
  for (const path of sql) console.log(`  ${path}`);
  console.log(`median file: ${median?.lines ?? 0} lines; largest:`);
  for (const { path, lines } of sizes.slice(-5).toReversed()) console.log(`  ${lines}\t${path}`);
  if (process.argv.includes("--list")) for (const edge of edges) console.log(`${edge.from} -> ${edge.to}`);
}

main();
