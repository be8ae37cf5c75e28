// Whether a request wants a page's fragment (htmx swapping part of it) or the whole page.
import type { Context } from "hono";

/** True for an htmx request that swaps part of the page. htmx 4 also sends `HX-Request` when it
 * restores history after the back button (`HX-History-Restore-Request`) and for requests that
 * replace the whole document (`HX-Request-Type: full`): those get the full page. */
export function wantsFragment(c: Context): boolean {
  return (
    c.req.header("hx-request") === "true" &&
    c.req.header("hx-history-restore-request") !== "true" &&
    c.req.header("hx-request-type") !== "full"
  );
}
