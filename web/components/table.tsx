// The one table style: scrolls sideways on narrow screens; column headers are `th scope="col"`,
// `numeric` ones (after the others) right-aligned; an optional caption for screen readers; a last
// column of buttons is named for screen readers only.
import type { Child } from "hono/jsx";

export function Table(p: {
  headers: readonly string[];
  numeric?: readonly string[];
  caption?: string;
  actions?: boolean;
  children?: Child;
}) {
  return (
    <div class="table-wrap">
      <table>
        {p.caption !== undefined && <caption class="skip">{p.caption}</caption>}
        <thead>
          <tr>
            {p.headers.map((h) => (
              <th scope="col">{h}</th>
            ))}
            {p.numeric?.map((h) => (
              <th scope="col" class="num">
                {h}
              </th>
            ))}
            {p.actions && (
              <th scope="col">
                <span class="skip">Actions</span>
              </th>
            )}
          </tr>
        </thead>
        <tbody>{p.children}</tbody>
      </table>
    </div>
  );
}
