// A small SVG bar chart: one bar per configuration, baselines in grey.

export interface Bar {
  label: string;
  value: number;
  baseline?: boolean;
}

const esc = (s: string) => s.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);

export function barChart(chart: { title: string; bars: Bar[] }): string {
  const w = 640;
  const rowH = 34;
  const left = 180;
  const h = 60 + chart.bars.length * rowH;
  const max = Math.max(...chart.bars.map((b) => b.value), 1e-9);
  const rows = chart.bars.map((b, i) => {
    const y = 44 + i * rowH;
    const bw = ((w - left - 90) * b.value) / max;
    return `<text x="${left - 8}" y="${y + 17}" text-anchor="end">${esc(b.label)}</text>` +
      `<rect x="${left}" y="${y}" width="${bw.toFixed(1)}" height="24" fill="${b.baseline ? "#999" : "#2f6fdf"}"/>` +
      `<text x="${(left + bw + 6).toFixed(1)}" y="${y + 17}">${b.value.toFixed(2)}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="13">` +
    `<rect width="100%" height="100%" fill="white"/>` +
    `<text x="${w / 2}" y="24" text-anchor="middle" font-size="15">${esc(chart.title)}</text>` +
    rows.join("") + `</svg>\n`;
}
