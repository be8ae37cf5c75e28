// The role table's entries for workers/dashboard/routes/usage.tsx (see test/auth/role-table.ts).
import type { RoleArea } from "../auth/role-table.ts";

export const usageArea: RoleArea = {
  routes: {
    "GET /usage": "read",
    "GET /usage/export": "read",
  },
  probes: () => ({
    "GET /usage": {
      allowedStatus: 200,
      async run(who) {
        const page = await who.b.get("/usage?range=7d&group=model");
        return { page, happened: page.html.includes("<h1>Usage</h1>") && page.html.includes('id="usage-results"') };
      },
    },
    "GET /usage/export": {
      allowedStatus: 200,
      async run(who) {
        const page = await who.b.get("/usage/export?range=7d&group=model");
        const csv = page.headers.get("content-type") === "text/csv; charset=utf-8";
        return { page, happened: csv && page.html.startsWith("model,requests,") };
      },
    },
  }),
};
