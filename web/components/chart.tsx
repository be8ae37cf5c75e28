// Charts drawn on the server as SVG: no script, no inline style (the CSP forbids both), sizes in
// SVG attributes, colours from classes in app.css. Each chart is role="img" with a <title> and
// <desc>, and every bar has its own <title>; pages put a table of the same numbers beside it.
// Amounts stay bigint nano-USD; only the geometry goes through numbers.

export type ChartFormat = (nano: bigint) => string;

const WIDTH = 960;

/** The smallest 1, 2 or 5 × 10^k at or above `max` (at least 1). */
export function niceCeiling(max: bigint): bigint {
  if (max <= 1n) return 1n;
  let unit = 1n;
  for (;;) {
    for (const m of [1n, 2n, 5n]) if (m * unit >= max) return m * unit;
    unit *= 10n;
  }
}

/** `value / top` of `length`, in SVG units with two decimals. */
function scale(value: bigint, top: bigint, length: number): number {
  if (top <= 0n || value <= 0n) return 0;
  return Number((value * BigInt(Math.round(length * 100))) / top) / 100;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export type TimePoint = {
  /** full label, for the bar's own title: "Nov 3, 2026" */
  label: string;
  /** axis label: "Nov 3" */
  short: string;
  value: bigint;
};

/** Vertical bars over time (days or hours), with a cost axis and up to eight time labels. */
export function TimeChart(p: { id: string; title: string; desc: string; points: TimePoint[]; format: ChartFormat }) {
  const height = 260;
  const left = 96;
  const right = 12;
  const top = 12;
  const bottom = 34;
  const plotW = WIDTH - left - right;
  const plotH = height - top - bottom;
  const max = p.points.reduce((m, pt) => (pt.value > m ? pt.value : m), 0n);
  const ceiling = niceCeiling(max);
  const ticks = ceiling >= 2n ? [0n, ceiling / 2n, ceiling] : [0n, ceiling];
  const n = Math.max(p.points.length, 1);
  const slot = plotW / n;
  const barW = Math.max(slot * 0.8, 0.5);
  const every = Math.max(1, Math.ceil(n / 8));
  return (
    <div class="chart-wrap">
      <svg
        class="chart"
        viewBox={`0 0 ${WIDTH} ${height}`}
        width={WIDTH}
        height={height}
        role="img"
        aria-labelledby={`${p.id}-title ${p.id}-desc`}
      >
        <title id={`${p.id}-title`}>{p.title}</title>
        <desc id={`${p.id}-desc`}>{p.desc}</desc>
        {ticks.map((t) => {
          const y = top + plotH - scale(t, ceiling, plotH);
          return (
            <g>
              <line class="grid" x1={left} x2={WIDTH - right} y1={y} y2={y} />
              <text class="axis-label" x={left - 8} y={y + 4} text-anchor="end">
                {p.format(t)}
              </text>
            </g>
          );
        })}
        {p.points.map((pt, i) => {
          const h = scale(pt.value, ceiling, plotH);
          const x = left + i * slot + (slot - barW) / 2;
          return (
            <rect class="bar" x={x.toFixed(2)} y={(top + plotH - h).toFixed(2)} width={barW.toFixed(2)} height={h}>
              <title>{`${pt.label}: ${p.format(pt.value)}`}</title>
            </rect>
          );
        })}
        <line class="axis" x1={left} x2={WIDTH - right} y1={top + plotH} y2={top + plotH} />
        {p.points.map((pt, i) =>
          i % every === 0 ? (
            <text class="axis-label" x={(left + i * slot + slot / 2).toFixed(2)} y={height - 12} text-anchor="middle">
              {pt.short}
            </text>
          ) : null,
        )}
      </svg>
    </div>
  );
}

export type Bar = { label: string; value: bigint };

/** Horizontal bars, highest first as given, each labelled with its name and amount. */
export function BarChart(p: { id: string; title: string; desc: string; bars: Bar[]; format: ChartFormat }) {
  const row = 28;
  const labelW = 280;
  const valueW = 150;
  const height = Math.max(p.bars.length, 1) * row + 8;
  const plotW = WIDTH - labelW - valueW;
  const max = p.bars.reduce((m, b) => (b.value > m ? b.value : m), 0n);
  const ceiling = niceCeiling(max);
  return (
    <div class="chart-wrap">
      <svg
        class="chart"
        viewBox={`0 0 ${WIDTH} ${height}`}
        width={WIDTH}
        height={height}
        role="img"
        aria-labelledby={`${p.id}-title ${p.id}-desc`}
      >
        <title id={`${p.id}-title`}>{p.title}</title>
        <desc id={`${p.id}-desc`}>{p.desc}</desc>
        {p.bars.map((b, i) => {
          const y = 4 + i * row;
          const w = scale(b.value, ceiling, plotW);
          return (
            <g>
              <text class="bar-label" x={labelW - 10} y={y + 18} text-anchor="end">
                {clip(b.label, 36)}
              </text>
              <rect class="bar" x={labelW} y={y + 4} width={w} height={row - 8}>
                <title>{`${b.label}: ${p.format(b.value)}`}</title>
              </rect>
              <text class="bar-value" x={labelW + w + 8} y={y + 18}>
                {p.format(b.value)}
              </text>
            </g>
          );
        })}
      </svg>
    </div>
  );
}
