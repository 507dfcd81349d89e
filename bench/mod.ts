/**
 * `bun run bench`: luna-ts's figures beside their baselines, measured in the
 * same run. Prints a table, writes bench/results/<timestamp>.json and an SVG
 * chart beside it.
 *
 * This first form measures packet forwarding over net_memif between two
 * processes: luna-ts (TypeScript on Bun and on Deno) against dpdk-testpmd (C)
 * doing the same job.
 *
 * Options: --quick (one short round), --rounds N, --seconds S.
 *
 * @module
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, release } from "node:os";
import { fileURLToPath } from "node:url";
import { forwardBench, type ForwardResult } from "./forward.ts";
import { barChart } from "./_chart.ts";

interface Record_ {
  workload: string;
  config: string;
  metric: string;
  value: number;
  rounds: number[];
  baseline: string;
  baseline_value: number;
  ratio: number;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const quick = process.argv.includes("--quick");
const rounds = Number(arg("--rounds") ?? (quick ? 1 : 5));
const measureS = Number(arg("--seconds") ?? 2);
if (!(rounds >= 1 && rounds <= 20) || !(measureS >= 0.5 && measureS <= 60)) {
  console.error("usage: bench [--quick] [--rounds 1..20] [--seconds 0.5..60]");
  process.exit(2);
}

const started = new Date();
console.log(`luna-ts bench: ${rounds} round(s) of ${measureS} s each${quick ? " (quick)" : ""}`);
const only = arg("--only")?.split(",");
const fwd = await forwardBench({ rounds, measureS, only: only && ["testpmd", ...only], onProgress: (m) => console.log(`  ... ${m}`) });
const base = fwd.find((r) => r.runtime === "c")!;
const records: Record_[] = [];
for (const [metric, pick] of [["pps", (r: ForwardResult) => r.pps], ["pps_max", (r: ForwardResult) => r.ppsMax]] as const) {
  for (const r of fwd) {
    records.push({
      workload: "forward64",
      config: r.config,
      metric,
      value: Math.round(pick(r)),
      rounds: r.rounds.map(Math.round),
      baseline: base.config,
      baseline_value: Math.round(pick(base)),
      ratio: Number((pick(r) / pick(base)).toFixed(3)),
    });
  }
}

console.log("\n64-byte frames forwarded over net_memif (receive, swap MACs, send)");
console.log(
  "config".padEnd(20) + "median Mpps".padStart(12) + "  ratio" + "   best Mpps".padStart(12) + "  ratio" +
    "   rounds (Mpps)",
);
for (const r of fwd) {
  console.log(
    r.config.padEnd(20) + (r.pps / 1e6).toFixed(2).padStart(12) + `  ${(r.pps / base.pps).toFixed(2)}x` +
      (r.ppsMax / 1e6).toFixed(2).padStart(12) + `  ${(r.ppsMax / base.ppsMax).toFixed(2)}x   ` +
      r.rounds.map((v) => (v / 1e6).toFixed(2)).join(" "),
  );
}
console.log("ratio: against dpdk-testpmd (C) doing the same job in the same run");

// deno-lint-ignore no-explicit-any
const g = globalThis as any;
const machine = {
  cpu: cpus()[0]?.model ?? "unknown",
  cpus: cpus().length,
  kernel: release(),
  runtime: typeof g.Bun !== "undefined" ? `bun ${g.Bun.version}` : `deno ${g.Deno?.version?.deno}`,
};
const dir = fileURLToPath(new URL("./results/", import.meta.url));
mkdirSync(dir, { recursive: true });
const stamp = started.toISOString().replace(/[:.]/g, "-");
const json = `${dir}${stamp}.json`;
writeFileSync(json, JSON.stringify({ started: started.toISOString(), machine, quick, rounds, measureS, records }, null, 2));
const svg = `${dir}${stamp}.svg`;
writeFileSync(
  svg,
  barChart({
    title: "64-byte forwarding over net_memif (Mpps, best of rounds)",
    bars: fwd.map((r) => ({ label: r.config, value: r.ppsMax / 1e6, baseline: r.runtime === "c" })),
  }),
);
console.log(`\nwrote ${json}\nwrote ${svg}`);
