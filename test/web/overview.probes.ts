// The role table's entries for workers/dashboard/routes/overview.tsx (see test/auth/role-table.ts).
import type { RoleArea } from "../auth/role-table.ts";

export const overviewArea: RoleArea = {
  routes: {
    "GET /": "read",
    "GET /usage/summary": "read",
  },
  probes: (ctx) => ({
    "GET /": {
      allowedStatus: 200,
      async run(who) {
        const page = await who.b.get("/");
        return { page, happened: page.html.includes("<h1>Overview</h1>") && page.html.includes(ctx.org.name) };
      },
    },
    "GET /usage/summary": {
      allowedStatus: 200,
      async run(who) {
        const page = await who.b.request("/usage/summary", { headers: { "hx-request": "true" } });
        return { page, happened: page.html.startsWith('<section id="spend-now"') };
      },
    },
  }),
};
