// The role table's entries for workers/dashboard/routes/activity.tsx (see test/auth/role-table.ts).
import type { RoleArea } from "../auth/role-table.ts";

export const activityArea: RoleArea = {
  routes: {
    "GET /activity": "read",
    "GET /activity/export": "read",
  },
  probes: () => ({
    "GET /activity": {
      allowedStatus: 200,
      async run(who) {
        const page = await who.b.get("/activity");
        return { page, happened: page.html.includes("<h1>Activity</h1>") };
      },
    },
    "GET /activity/export": {
      allowedStatus: 200,
      async run(who) {
        const page = await who.b.get("/activity/export?category=changes&format=csv");
        return { page, happened: page.html.startsWith("seq,at,type,") };
      },
    },
  }),
};
