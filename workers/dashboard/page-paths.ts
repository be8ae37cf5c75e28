// The paths the dashboard's pages own, read off their routers: one entry per first path segment,
// "/x" when every route under it is exactly "/x", else "/x/*" (which also matches "/x"). The
// page middleware (session, CSRF, security headers) runs on these paths and on no others.
export function pagePaths(routers: readonly { routes: readonly { path: string }[] }[]): string[] {
  const bySegment = new Map<string, boolean>();
  for (const router of routers) {
    for (const { path } of router.routes) {
      const segment = path.split("/")[1] ?? "";
      const deeper = path !== `/${segment}` && path !== `/${segment}/*`;
      bySegment.set(segment, (bySegment.get(segment) ?? false) || deeper || path.endsWith("/*"));
    }
  }
  return [...bySegment].map(([segment, deeper]) => (segment === "" ? "/" : deeper ? `/${segment}/*` : `/${segment}`));
}
