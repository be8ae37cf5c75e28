// How much of a limit is used: an SVG bar (spent, then held, on a track of the limit) with a
// text alternative, and the figures written out beside it (never colour alone). Money is exact
// nano-USD formatted by the organisation's Format; only the bar's geometry and the percent, which
// are for display, go through a float.
import type { Format } from "../format.ts";

export type ProgressProps = {
  /** unique on the page: the SVG's title and description are tied to it */
  id: string;
  /** what is measured, e.g. the budget's name */
  label: string;
  limitNano: bigint;
  spentNano: bigint;
  heldNano: bigint;
  format: Format;
};

/** The bar's width in viewBox units (0…1000). */
const SCALE = 1000n;

/** `part` of `limit` in bar units, capped to the bar (a zero limit is full once anything is used). */
function units(part: bigint, limit: bigint): number {
  if (part <= 0n) return 0;
  if (limit <= 0n) return Number(SCALE);
  const scaled = (part * SCALE) / limit;
  return Number(scaled > SCALE ? SCALE : scaled);
}

/** "42.5%" in the organisation's locale; null for a zero limit (no percent of nothing). */
export function percentOf(part: bigint, limit: bigint, locale: string): string | null {
  if (limit <= 0n) return null;
  // Tenths of a percent, rounded down, so "100%" is only shown once the limit is really reached.
  const tenths = (part * 1000n) / limit;
  return new Intl.NumberFormat(locale, { style: "percent", maximumFractionDigits: 1 }).format(Number(tenths) / 1000);
}

export function Progress(p: ProgressProps) {
  const f = p.format;
  const remaining = p.limitNano - p.spentNano - p.heldNano;
  const spentWidth = units(p.spentNano, p.limitNano);
  const heldWidth = Math.min(Number(SCALE) - spentWidth, units(p.heldNano, p.limitNano));
  const over = p.spentNano > p.limitNano;
  const spentPercent = percentOf(p.spentNano, p.limitNano, f.locale);
  const usedPercent = percentOf(p.spentNano + p.heldNano, p.limitNano, f.locale);
  const summary =
    `${p.label}: ${f.usd(p.spentNano)} spent and ${f.usd(p.heldNano)} held of ${f.usd(p.limitNano)}` +
    (remaining < 0n ? `, ${f.usd(-remaining)} over the limit.` : `, ${f.usd(remaining)} remaining.`);
  return (
    <div class={over ? "progress over" : "progress"}>
      <svg
        class="progress-bar"
        role="img"
        aria-labelledby={`${p.id}-title ${p.id}-desc`}
        viewBox={`0 0 ${SCALE} 10`}
        preserveAspectRatio="none"
        width="100%"
        height="10"
      >
        <title id={`${p.id}-title`}>{`${p.label}: ${spentPercent ?? f.usd(p.spentNano)} spent`}</title>
        <desc id={`${p.id}-desc`}>{summary}</desc>
        <rect class="track" x="0" y="0" width={String(SCALE)} height="10" />
        <rect class="spent" x="0" y="0" width={String(spentWidth)} height="10" />
        {heldWidth > 0 && <rect class="held" x={String(spentWidth)} y="0" width={String(heldWidth)} height="10" />}
      </svg>
      <p class="progress-figures">
        <span>
          <strong>{f.usd(p.spentNano)}</strong> spent{spentPercent && ` (${spentPercent})`}
        </span>
        <span>{f.usd(p.heldNano)} held</span>
        <span>
          {remaining < 0n ? `${f.usd(-remaining)} over the limit` : `${f.usd(remaining)} remaining`}
          {usedPercent && p.heldNano > 0n && ` (${usedPercent} used with holds)`}
        </span>
        <span>of {f.usd(p.limitNano)}</span>
      </p>
    </div>
  );
}
