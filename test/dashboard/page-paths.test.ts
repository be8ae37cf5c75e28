// The page middleware (session, CSRF, security headers) runs on the paths read off the page routers:
// every page route is covered, and nothing outside the pages (gateway, API, static) is.
import { describe, expect, it } from "vitest";
import { PAGE_PATHS, web } from "../../workers/dashboard/index.ts";
import { pagePaths } from "../../workers/dashboard/page-paths.ts";

function covered(path: string): boolean {
  return PAGE_PATHS.some((p) =>
    p.endsWith("/*") ? path === p.slice(0, -2) || path.startsWith(p.slice(0, -1)) : path === p,
  );
}

describe("dashboard page paths", () => {
  it("covers every route of every page", () => {
    const uncovered = web.routes.map((r) => r.path).filter((path) => !covered(path));
    expect(uncovered).toEqual([]);
  });

  it("covers no gateway, API or static path", () => {
    const outside = [
      "/v1/chat/completions",
      "/openai/v1/models",
      "/anthropic/v1/messages",
      "/api/v1/keys",
      "/internal/v1/tenants",
      "/static/app.css",
      "/health",
      "/groq/v1/chat/completions",
    ];
    expect(outside.filter(covered)).toEqual([]);
  });

  it("keeps a segment exact when no route goes below it", () => {
    const routers = [{ routes: [{ path: "/logout" }, { path: "/keys" }, { path: "/keys/:id" }, { path: "/" }] }];
    expect(pagePaths(routers)).toEqual(["/logout", "/keys/*", "/"]);
  });
});
