// Small SVG charts: bars per configuration (baselines in grey, the spread of
// the rounds as a whisker), latency CDF curves, and a stack of both.

export interface Bar {
  label: string;
  value: number;
  baseline?: boolean;
  /** Printed after the value, e.g. the ratio to the baseline. */
  note?: string;
  /** Spread of the rounds, drawn as a whisker over the bar. */
  min?: number;
  max?: number;
}

const esc = (s: string) => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);

export function barChart(chart: { title: string; bars: Bar[] }): string {
  const w = 640;
  const rowH = 34;
  const left = 200;
  const h = 60 + chart.bars.length * rowH;
  const max = Math.max(...chart.bars.map((b) => Math.max(b.value, b.max ?? 0)), 1e-9);
  const rows = chart.bars.map((b, i) => {
    const y = 44 + i * rowH;
    const bw = ((w - left - 130) * b.value) / max;
    const fill = b.baseline ? "#999" : "#2f6fdf";
    const text = `${b.value.toFixed(2)}${b.note ? ` ${esc(b.note)}` : ""}`;
    const scale = (w - left - 130) / max;
    const whisker = b.min !== undefined && b.max !== undefined && b.max > b.min
      ? `<line x1="${(left + b.min * scale).toFixed(1)}" y1="${y + 12}" x2="${
        (left + b.max * scale).toFixed(1)
      }" ` +
        `y2="${y + 12}" stroke="#222" stroke-width="1.5"/>`
      : "";
    const textX = left + Math.max(bw, (b.max ?? 0) * scale) + 6;
    return `<text x="${left - 8}" y="${y + 17}" text-anchor="end">${esc(b.label)}</text>` +
      `<rect x="${left}" y="${y}" width="${bw.toFixed(1)}" height="24" fill="${fill}"/>` +
      whisker + `<text x="${textX.toFixed(1)}" y="${y + 17}">${text}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="13">` +
    `<rect width="100%" height="100%" fill="white"/>` +
    `<text x="${w / 2}" y="24" text-anchor="middle" font-size="15">${esc(chart.title)}</text>` +
    rows.join("") + `</svg>\n`;
}

/** One curve of a CDF chart. */
export interface Curve {
  label: string;
  /** [x, fraction at or below x], x ascending. */
  points: [number, number][];
  /** A baseline: drawn dashed. */
  baseline?: boolean;
  /** Colour, and a dash pattern for baselines; picked from a palette when absent. */
  colour?: string;
  dash?: string;
}

const palette = ["#2f6fdf", "#d9480f", "#2b8a3e", "#862e9c", "#e8590c", "#0b7285", "#5c940d", "#c2255c"];
const greys = ["#333", "#999", "#b08900", "#666", "#bbb", "#7a5c00"];

/**
 * Latency CDF curves: latency on a logarithmic x axis (µs), the fraction of
 * requests on a "nines" y axis (0, 0.9, 0.99, 0.999, 0.9999 equally spaced),
 * so that the tail is as readable as the body. Baselines dashed.
 */
export function cdfChart(chart: { title: string; curves: Curve[]; xLabel?: string }): string {
  const w = 640;
  const h = 360;
  const left = 56;
  const right = 200;
  const top = 40;
  const bottom = 40;
  const pw = w - left - right;
  const ph = h - top - bottom;
  const nines = 4;
  const xs = chart.curves.flatMap((c) => c.points.map(([x]) => x)).filter((x) => x > 0);
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...xs, 1))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...xs, 10))));
  const X = (x: number) =>
    left + (pw * (Math.log10(Math.max(x, lo)) - Math.log10(lo))) / (Math.log10(hi) - Math.log10(lo));
  const Y = (f: number) =>
    top + ph * (1 - Math.min(nines, -Math.log10(Math.max(1 - f, 10 ** -nines))) / nines);
  const parts: string[] = [];
  for (let d = lo; d <= hi * 1.001; d *= 10) {
    parts.push(
      `<line x1="${X(d).toFixed(1)}" y1="${top}" x2="${X(d).toFixed(1)}" y2="${top + ph}" stroke="#ddd"/>`,
    );
    const label = d >= 1e6 ? `${d / 1e6} s` : d >= 1000 ? `${d / 1000} ms` : `${d} µs`;
    parts.push(`<text x="${X(d).toFixed(1)}" y="${top + ph + 16}" text-anchor="middle">${label}</text>`);
  }
  for (
    const [f, label] of [[0, "0"], [0.5, "p50"], [0.9, "p90"], [0.99, "p99"], [0.999, "p99.9"], [
      0.9999,
      "p99.99",
    ]] as const
  ) {
    parts.push(
      `<line x1="${left}" y1="${Y(f).toFixed(1)}" x2="${left + pw}" y2="${Y(f).toFixed(1)}" stroke="#eee"/>`,
    );
    parts.push(`<text x="${left - 6}" y="${(Y(f) + 4).toFixed(1)}" text-anchor="end">${label}</text>`);
  }
  let ci = 0;
  let gi = 0;
  chart.curves.forEach((c, i) => {
    const colour = c.colour ?? (c.baseline ? greys[gi++ % greys.length] : palette[ci++ % palette.length]);
    const dash = c.baseline ? ` stroke-dasharray="${c.dash ?? "6,3"}"` : "";
    const pts = c.points.filter(([, f]) => f < 1);
    const d = pts.map(([x, f], j) => `${j === 0 ? "M" : "L"}${X(x).toFixed(1)},${Y(f).toFixed(1)}`).join("");
    parts.push(`<path d="${d}" fill="none" stroke="${colour}" stroke-width="2"${dash}/>`);
    const ly = top + 4 + i * 18;
    parts.push(
      `<line x1="${left + pw + 12}" y1="${ly}" x2="${
        left + pw + 36
      }" y2="${ly}" stroke="${colour}" stroke-width="2"${dash}/>`,
    );
    parts.push(`<text x="${left + pw + 42}" y="${ly + 4}">${esc(c.label)}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">` +
    `<rect width="100%" height="100%" fill="white"/>` +
    `<text x="${w / 2}" y="22" text-anchor="middle" font-size="15">${esc(chart.title)}</text>` +
    `<rect x="${left}" y="${top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>` + parts.join("") +
    `<text x="${left + pw / 2}" y="${h - 6}" text-anchor="middle">${
      esc(chart.xLabel ?? "latency (log scale)")
    }</text>` +
    `</svg>\n`;
}

/** Stacks whole charts (each an <svg> document) into one, top to bottom. */
export function stackCharts(charts: string[]): string {
  let y = 0;
  let width = 0;
  const parts: string[] = [];
  for (const c of charts) {
    const w = Number(c.match(/width="(\d+)"/)?.[1] ?? 640);
    const h = Number(c.match(/height="(\d+)"/)?.[1] ?? 300);
    parts.push(c.trim().replace(/^<svg /, `<svg x="0" y="${y}" `));
    y += h + 10;
    width = Math.max(width, w);
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" font-family="sans-serif">` +
    `<rect width="100%" height="100%" fill="white"/>${parts.join("")}</svg>\n`;
}
