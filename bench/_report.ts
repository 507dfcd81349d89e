// From samples to figures: medians over rounds, baselines from the same run,
// ratios, and the tables printed on the terminal.
import { type Bar, barChart, cdfChart, stackCharts } from "./_chart.ts";
import { median, spread } from "./_stats.ts";
import type { Sample } from "./tcp.ts";

/** One figure of the results file. */
export interface BenchRecord {
  workload: string;
  config: string;
  /** Connections (echo: in the closed loop; connrate: opened at a time; bulk: 1); null where none. */
  conns: number | null;
  metric: string;
  /** Median over the rounds. */
  value: number;
  /** The kernel configuration this figure is compared with, measured in the same run. */
  baseline: string | null;
  baseline_value: number | null;
  /** value / baseline_value (for latencies, lower is better). */
  ratio: number | null;
  /**
   * The second baseline, the kernel at its best: the busy-polling C epoll
   * server on the network of `baseline` (see {@link cBaselineOf}), its value
   * and value / that; absent where there is none.
   */
  c_baseline?: string;
  c_baseline_value?: number;
  c_ratio?: number | null;
  rounds: number[];
  min: number;
  max: number;
  /** Half the range of the rounds relative to the median. */
  spread: number;
  /** luna-ts figures: heap of the luna-ts processes around each round's measurement, bytes. */
  heap?: Sample["heap"][];
  /** Errors, retransmissions and the like, per round. */
  notes?: Record<string, unknown>[];
  /** Concurrency: the idle connections the baseline held (its `conns`; it may hold fewer than luna-ts). */
  baseline_conns?: number;
  /**
   * Concurrency, echo metrics with the idle connections open: the same
   * configuration's figure without them (same processes, measured just
   * before they were opened), and value / that.
   */
  no_idle_value?: number;
  no_idle_ratio?: number | null;
}

/** The metrics of each workload, in the order they are shown. */
export const metricsOf: Record<string, string[]> = {
  echo: ["req_per_s", "p50_us", "p99_us", "p999_us"],
  bulk: ["gbit_per_s"],
  connrate: ["conn_per_s"],
  storage4k: ["ops_per_s", "gbit_per_s", "p50_us", "p99_us", "p999_us"],
  storage64k: ["ops_per_s", "gbit_per_s", "p50_us", "p99_us", "p999_us"],
  scale: ["req_per_s", "p50_us", "p99_us", "p999_us"],
  ecn: [
    "goodput_mbit_per_s",
    "rtt_p50_us",
    "rtt_p99_us",
    "rtt_p999_us",
    "queue_p50_bytes",
    "queue_p99_bytes",
  ],
  // concurrency: the metrics in the order the samples list them (bench/concurrency.ts).
  forward1500: ["pps", "pps_max", "gbit_per_s"],
};

/**
 * The kernel figure a configuration is compared with: what crosses a veth
 * (the kernel's own veth figures, luna-ts on net_af_packet) against
 * bun-kernel-veth; bulk over memif against bun-kernel-veth too (the goal:
 * "bulk at least equal to kernel over veth"); the rest against bun-kernel-lo.
 */
export function baselineOf(workload: string, config: string): string {
  // Scaling: n workers a side against 1 (the ratio is the scaling).
  if (workload === "scale") return "luna-memif-w1";
  // Lossy: the kernel's node:http / node:net server over the same veth, address and router.
  // (packet: runs where every veth keeps its offloads, against the kernel with them on.)
  if (workload === "lossy") return config.startsWith("luna-packet") ? "node-kernel-routed-offloads" : "node-kernel-routed";
  // Lossy RPC: the C epoll server on the kernel over the same veth, address and router.
  if (workload === "lossyrpc") return config.startsWith("luna-packet") ? "c-kernel-routed-offloads" : "c-kernel-routed";
  // ECN: every configuration against CUBIC without ECN through the same marking queue (bench/ecn.ts).
  if (workload === "ecn") return "cubic";
  // wrk over a veth: Bun.serve on the kernel over the same veth, with the same framing (keep-alive or close).
  if (workload === "httpwrk") return config.endsWith("-close") ? "bun-kernel-veth-close" : "bun-kernel-veth";
  if (config.endsWith("-veth") || config.startsWith("luna-afpacket")) return "bun-kernel-veth";
  // memif at a loopback-class MTU: against loopback (64 KB segments both), bulk too.
  if (config.startsWith("luna-memif-mtu64k")) return "bun-kernel-lo";
  if (workload === "bulk" && config.startsWith("luna-memif")) return "bun-kernel-veth";
  // Checksums computed on memif: what a link that needs them gets, against the kernel over a veth.
  if (config.startsWith("luna-memif-csum")) return "bun-kernel-veth";
  return "bun-kernel-lo";
}

/**
 * The second baseline of a figure whose baseline is a Bun server on the
 * kernel: the busy-polling C epoll server on the same network (loopback or
 * veth), so that a ratio also reads against the kernel itself. None for the
 * C servers themselves.
 */
export function cBaselineOf(workload: string, config: string): string | undefined {
  if (config.startsWith("c-")) return undefined;
  const base = baselineOf(workload, config);
  if (base === "bun-kernel-lo") return "c-busy-kernel-lo";
  return base === "bun-kernel-veth" ? "c-busy-kernel-veth" : undefined;
}

const keyOf = (w: string, config: string, conns: number) => `${w}|${config}|${conns}`;

/** Groups samples by (workload, config, conns), keeping the order they first appeared in. */
function group(samples: Sample[]): Map<string, Sample[]> {
  const m = new Map<string, Sample[]>();
  for (const s of samples) {
    const k = keyOf(s.workload, s.config, s.conns);
    if (!m.has(k)) m.set(k, []);
    m.get(k)!.push(s);
  }
  return m;
}

const round3 = (x: number) => Number(x.toPrecision(6));

/** Records for every (workload, config, conns, metric) measured. */
export function records(samples: Sample[]): BenchRecord[] {
  const groups = group(samples);
  const medianOf = (k: string, metric: string) => {
    const g = groups.get(k);
    const xs = g?.map((s) => s.metrics[metric]).filter((x) => Number.isFinite(x)) ?? [];
    return xs.length > 0 ? median(xs) : undefined;
  };
  // Concurrency: luna-ts and the kernel hold different numbers of idle connections; a figure
  // with idle connections is compared with the baseline's with idle connections, one without
  // with one without.
  const concKey = (config: string, idle: boolean) =>
    [...groups.keys()].find((k) => {
      const s = groups.get(k)![0];
      return s.workload === "concurrency" && s.config === config && (s.conns > 0) === idle;
    });
  const out: BenchRecord[] = [];
  for (const [k, g] of groups) {
    const { workload, config, conns } = g[0];
    const base = baselineOf(workload, config);
    const conc = workload === "concurrency";
    const baseKey = conc ? concKey(base, conns > 0) ?? "" : keyOf(workload, base, conns);
    const noIdleKey = conc && conns > 0 ? concKey(config, false) : undefined;
    const cBase = conc ? undefined : cBaselineOf(workload, config);
    // Metrics in the order the first sample lists them, then any a later round added.
    const list = metricsOf[workload] ?? [...new Set(g.flatMap((s) => Object.keys(s.metrics)))];
    for (const metric of list) {
      const xs = g.map((s) => s.metrics[metric]).filter((x) => Number.isFinite(x));
      if (xs.length === 0) continue;
      const value = median(xs);
      const bv = medianOf(baseKey, metric);
      const sp = spread(xs);
      const r: BenchRecord = {
        workload,
        config,
        conns,
        metric,
        value: round3(value),
        baseline: bv === undefined ? null : base,
        baseline_value: bv === undefined ? null : round3(bv),
        ratio: bv === undefined || bv === 0 ? null : Number((value / bv).toFixed(3)),
        rounds: xs.map(round3),
        min: round3(sp.min),
        max: round3(sp.max),
        spread: Number(sp.rel.toFixed(3)),
      };
      if (conc && bv !== undefined) r.baseline_conns = groups.get(baseKey)![0].conns;
      const cv = cBase === undefined ? undefined : medianOf(keyOf(workload, cBase, conns), metric);
      if (cv !== undefined) {
        r.c_baseline = cBase;
        r.c_baseline_value = round3(cv);
        r.c_ratio = cv === 0 ? null : Number((value / cv).toFixed(3));
      }
      const nv = noIdleKey === undefined ? undefined : medianOf(noIdleKey, metric);
      if (nv !== undefined) {
        r.no_idle_value = round3(nv);
        r.no_idle_ratio = nv === 0 ? null : Number((value / nv).toFixed(3));
      }
      if (metric === list[0]) {
        if (g.some((s) => s.heap)) r.heap = g.map((s) => s.heap);
        if (g.some((s) => s.notes)) r.notes = g.map((s) => s.notes ?? {});
      }
      out.push(r);
    }
    void k;
  }
  return out;
}

/** CDF of each echo configuration, from its median round (by requests/s). */
export function cdfs(samples: Sample[]): { config: string; conns: number; points_us: [number, number][] }[] {
  const out: { config: string; conns: number; points_us: [number, number][] }[] = [];
  for (const g of group(samples.filter((s) => s.workload === "echo" && s.cdf)).values()) {
    const sorted = [...g].sort((a, b) => a.metrics.req_per_s - b.metrics.req_per_s);
    const mid = sorted[(sorted.length - 1) >> 1];
    out.push({ config: mid.config, conns: mid.conns, points_us: mid.cdf!.map(([x, f]) => [round3(x), f]) });
  }
  return out;
}

const fmt = (x: number | null | undefined, digits = 1) => {
  if (x === null || x === undefined || !Number.isFinite(x)) return "-";
  if (Math.abs(x) >= 1e6) return `${(x / 1e6).toFixed(2)}M`;
  if (Math.abs(x) >= 1e4) return `${(x / 1e3).toFixed(1)}k`;
  return x.toFixed(digits);
};
const ratio = (r: number | null) => (r === null ? "-" : `${r.toFixed(2)}x`);
const pct = (s: number) => `±${Math.round(s * 100)}%`;

/** The record of one figure: `metric` of `workload` in `config` at `conns` connections. */
export function recordOf(
  recs: readonly BenchRecord[],
  workload: string,
  config: string,
  conns: number | null,
  metric: string,
): BenchRecord | undefined {
  return recs.find((r) =>
    r.workload === workload && r.config === config && r.conns === conns && r.metric === metric
  );
}

/** The terminal tables of the TCP workloads. */
export function tables(recs: BenchRecord[]): string {
  const lines: string[] = [];
  const find = (w: string, c: string, n: number | null, m: string) => recordOf(recs, w, c, n, m);
  const rows = (w: string) => {
    const seen = new Set<string>();
    const out: { config: string; conns: number | null }[] = [];
    for (const r of recs) {
      if (r.workload !== w) continue;
      const k = `${r.config}|${r.conns}`;
      if (!seen.has(k)) {
        seen.add(k);
        out.push({ config: r.config, conns: r.conns });
      }
    }
    return out.sort((a, b) => (a.conns ?? 0) - (b.conns ?? 0));
  };

  if (recs.some((r) => r.c_baseline !== undefined)) {
    lines.push(
      "",
      "vs C: the ratio against the kernel at its best, the busy-polling C epoll server",
      "(bench/c/epoll_server.c) on the same network as the baseline (c-busy-kernel-lo, c-busy-kernel-veth),",
      "measured in the same run",
    );
  }
  const echo = rows("echo");
  if (echo.length > 0) {
    lines.push(
      "",
      "echo RPC, 64-byte request and response, closed loop (median of rounds; ratio to the baseline in the same run)",
    );
    lines.push(
      "conns".padStart(5) + "  " + "config".padEnd(22) + "req/s".padStart(9) + " spread" + "  ratio" +
        "   vs C" + "  p50 µs" + "  ratio" + "   vs C" + "  p99 µs" + " p999 µs" + "  baseline",
    );
    let last: number | null = -1;
    for (const { config, conns } of echo) {
      if (conns !== last && last !== -1) lines.push("");
      last = conns;
      const q = find("echo", config, conns, "req_per_s")!;
      const p50 = find("echo", config, conns, "p50_us");
      const p99 = find("echo", config, conns, "p99_us");
      const p999 = find("echo", config, conns, "p999_us");
      lines.push(
        String(conns).padStart(5) + "  " + config.padEnd(22) + fmt(q.value, 0).padStart(9) +
          pct(q.spread).padStart(7) +
          ratio(q.ratio).padStart(7) + ratio(q.c_ratio ?? null).padStart(7) + fmt(p50?.value).padStart(8) +
          ratio(p50?.ratio ?? null).padStart(7) + ratio(p50?.c_ratio ?? null).padStart(7) +
          fmt(p99?.value, 0).padStart(8) + fmt(p999?.value, 0).padStart(8) + "  " + (q.baseline ?? "-"),
      );
    }
  }
  for (
    const [w, metric, title, unit, digits] of [
      ["bulk", "gbit_per_s", "bulk: one connection, one way", "Gbit/s", 2],
      ["connrate", "conn_per_s", "connection rate: connect, one 64-byte exchange, close", "conn/s", 0],
    ] as const
  ) {
    const rs = rows(w);
    if (rs.length === 0) continue;
    lines.push("", `${title} (median of rounds)`);
    lines.push(
      "conns".padStart(5) + "  " + "config".padEnd(22) + unit.padStart(9) + " spread" + "  ratio" +
        "   vs C" + "  baseline",
    );
    for (const { config, conns } of rs) {
      const r = find(w, config, conns, metric)!;
      lines.push(
        String(conns).padStart(5) + "  " + config.padEnd(22) + fmt(r.value, digits).padStart(9) +
          pct(r.spread).padStart(7) +
          ratio(r.ratio).padStart(7) + ratio(r.c_ratio ?? null).padStart(7) + "  " + (r.baseline ?? "-"),
      );
    }
  }
  const sc = rows("scale");
  if (sc.length > 0) {
    lines.push(
      "",
      "scaling: luna-ts to luna-ts over memif, per-core workers a side, 64-byte echo (ratio: against 1 worker)",
    );
    lines.push(
      "conns".padStart(5) + "  " + "config".padEnd(22) + "req/s".padStart(9) + " spread" + "  ratio" +
        "  p50 µs" + "  p99 µs" + "  CPUs (server/client)",
    );
    for (const { config, conns } of sc) {
      const q = find("scale", config, conns, "req_per_s")!;
      const p50 = find("scale", config, conns, "p50_us");
      const p99 = find("scale", config, conns, "p99_us");
      const n = q.notes?.[0] as { serverCpus?: string; clientCpus?: string } | undefined;
      lines.push(
        String(conns).padStart(5) + "  " + config.padEnd(22) + fmt(q.value, 0).padStart(9) +
          pct(q.spread).padStart(7) + ratio(q.ratio).padStart(7) + fmt(p50?.value).padStart(8) +
          fmt(p99?.value, 0).padStart(8) + `  ${n?.serverCpus ?? "?"}/${n?.clientCpus ?? "?"}`,
      );
    }
  }
  for (const [w, resp] of [["storage4k", "4 KiB"], ["storage64k", "64 KiB"]] as const) {
    const rs = rows(w);
    if (rs.length === 0) continue;
    lines.push(
      "",
      `storage-shaped RPC: 64-byte request, ${resp} answer, closed loop (median of rounds; ratio to the baseline)`,
    );
    lines.push(
      "conns".padStart(5) + "  " + "config".padEnd(22) + "op/s".padStart(9) + " spread" + "  ratio" +
        "   vs C" + "  Gbit/s" + "  p50 µs" + "   p99 µs" + "   ratio" + "   vs C" + "  baseline",
    );
    let last: number | null = -1;
    for (const { config, conns } of rs) {
      if (conns !== last && last !== -1) lines.push("");
      last = conns;
      const q = find(w, config, conns, "ops_per_s")!;
      const g = find(w, config, conns, "gbit_per_s");
      const p50 = find(w, config, conns, "p50_us");
      const p99 = find(w, config, conns, "p99_us");
      lines.push(
        String(conns).padStart(5) + "  " + config.padEnd(22) + fmt(q.value, 0).padStart(9) +
          pct(q.spread).padStart(7) + ratio(q.ratio).padStart(7) + ratio(q.c_ratio ?? null).padStart(7) +
          fmt(g?.value, 2).padStart(8) + fmt(p50?.value).padStart(8) + fmt(p99?.value, 0).padStart(9) +
          ratio(p99?.ratio ?? null).padStart(8) + ratio(p99?.c_ratio ?? null).padStart(7) + "  " +
          (q.baseline ?? "-"),
      );
    }
  }
  lines.push(...concurrencyTable(recs));
  lines.push(...lossyTable(recs));
  lines.push(...lossyRpcTable(recs));
  lines.push(...ecnTable(recs));
  const heapRows = recs.filter((r) => r.heap);
  if (heapRows.length > 0) {
    lines.push(
      "",
      "luna-ts allocation on the JavaScript heap (median of rounds), from JSC's GC log between two forced collections:",
      "bytes allocated per request (echo), per connection (connrate) or per MiB moved (bulk); collections in between;",
      "heap retained after the stretch, KiB. Server: the whole phase (connect, warm-up, measurement, close);",
      "client: the measured stretch only.",
    );
    lines.push(
      "workload".padEnd(11) + "config".padEnd(22) + "conns".padStart(5) + "   server: B/unit  GCs  kept KiB" +
        "   client: B/unit  GCs  kept KiB",
    );
    const mid = (xs: number[]) => (xs.length ? median(xs) : NaN);
    type Marks = NonNullable<NonNullable<Sample["heap"]>["server"]>;
    const units = (w: string, side: "server" | "client", m: Marks) => {
      const k = m.work ?? {};
      if (side === "server") {
        if (w === "echo") return (k.echoedBytes ?? 0) / 64;
        if (w.startsWith("storage")) return k.storageOps ?? 0;
        if (w === "connrate") return k.accepted ?? 0;
        return (k.sunkBytes ?? 0) / 2 ** 20;
      }
      if (w === "echo" || w.startsWith("storage")) return k.requests ?? 0;
      if (w === "connrate") return k.connections ?? 0;
      return (k.bytes ?? 0) / 2 ** 20;
    };
    for (const r of heapRows) {
      const hs = r.heap!.filter((h) => h !== undefined);
      const of = (side: "server" | "client", f: (m: Marks) => number) =>
        mid(hs.filter((h) => h![side]).map((h) => f(h![side]!)).filter((x) => Number.isFinite(x)));
      const cols = (side: "server" | "client") =>
        fmt(of(side, (m) => (m.gc?.allocatedBytes ?? NaN) / units(r.workload, side, m)), 1).padStart(16) +
        fmt(of(side, (m) => m.gc?.collections ?? NaN), 0).padStart(5) +
        fmt(of(side, (m) => (m.afterGc - m.before) / 1024), 0).padStart(10);
      lines.push(
        r.workload.padEnd(11) + r.config.padEnd(22) + String(r.conns).padStart(5) + " " + cols("server") +
          " " + cols("client"),
      );
    }
  }
  return lines.join("\n");
}

/** The goal of the concurrency workload: this many connections at most this many bytes each. */
export const concurrencyGoal = { conns: 1_000_000, bytesPerConn: 1024 };
/** The goal of TIME-WAIT (issue 12): at most this many bytes of heap per TIME-WAIT connection. */
export const timeWaitGoalBytes = 128;

/** The concurrency tables: memory per idle connection, then the echo loop with and without them. */
function concurrencyTable(recs: BenchRecord[]): string[] {
  const cs = recs.filter((r) => r.workload === "concurrency");
  if (cs.length === 0) return [];
  const lines: string[] = [];
  const find = (c: string, idle: boolean, m: string) =>
    cs.find((r) => r.config === c && ((r.conns ?? 0) > 0) === idle && r.metric === m);
  const configs = [...new Set(cs.map((r) => r.config))];
  const loaded = configs.filter((c) => find(c, true, "idle_conns"));
  if (loaded.length > 0) {
    lines.push(
      "",
      "concurrency: idle connections held open, memory each costs the server side, bytes (after less before, over the",
      "connections held; luna-ts: all in the process, JS heap after full collections and RSS; kernel: the server's RSS",
      "plus half the kernel's Slab + TCP pages on loopback, machine-wide). ratio: total against the baseline",
    );
    lines.push(
      "config".padEnd(22) + "idle conns".padStart(11) + "  open/s" + "  heap B" + "   RSS B" + "  kernel B" +
        "  total B" + "  ratio" + "  client heap B" + "  baseline",
    );
    for (const c of loaded) {
      const v = (m: string) => find(c, true, m)?.value;
      const tot = find(c, true, "mem_bytes_per_conn");
      lines.push(
        c.padEnd(22) + fmt(v("idle_conns"), 0).padStart(11) + fmt(v("open_conn_per_s"), 0).padStart(8) +
          fmt(v("heap_bytes_per_conn"), 0).padStart(8) + fmt(v("rss_bytes_per_conn"), 0).padStart(8) +
          fmt(v("kernel_bytes_per_conn"), 0).padStart(10) + fmt(tot?.value, 0).padStart(9) +
          ratio(tot?.ratio ?? null).padStart(7) + fmt(v("client_heap_bytes_per_conn"), 0).padStart(15) + "  " +
          (tot?.baseline ?? "-"),
      );
      const why = (find(c, true, "idle_conns")?.notes?.[0] as { why?: string } | undefined)?.why;
      if (why) lines.push(`  ${c}: ${why}`);
    }
    const g = concurrencyGoal;
    for (const c of loaded.filter((x) => x.startsWith("luna"))) {
      const n = find(c, true, "idle_conns")!.value;
      const b = find(c, true, "mem_bytes_per_conn")?.value ?? NaN;
      const met = n >= g.conns && b <= g.bytesPerConn;
      lines.push(
        `goal ${fmt(g.conns, 0)} connections at <= ${g.bytesPerConn} B each: ${c} held ${fmt(n, 0)} at ` +
          `${fmt(b, 0)} B (RSS) / ${fmt(find(c, true, "heap_bytes_per_conn")?.value, 0)} B (heap): ` +
          (met ? "met" : "not met"),
      );
    }
  }
  const tw = configs.filter((c) => find(c, true, "tw_conns"));
  if (tw.length > 0) {
    lines.push(
      "",
      "concurrency: TIME-WAIT, the server closing first on the idle connections; bytes per TIME-WAIT connection, server",
      "side (luna-ts: JS heap 5 s after the closes, and at once, and RSS, after two full collections less before",
      "any idle connection was opened; the records' own stats().timeWait.bytes / count; all of the TCP layer's",
      `tables with them, tcp.footprint() / count; goal <= ${timeWaitGoalBytes} B of heap; kernel: tw_sock_TCP`,
      "objsize x sockstat tw / tw, and the slab's growth x objsize). ratio: heap (luna-ts) against tw_sock_TCP",
      "(kernel)",
    );
    lines.push(
      "config".padEnd(22) + "TIME-WAIT".padStart(10) + "  heap B" + "  at once" + "   RSS B" + "  record B" +
        "  tables B" + "  kernel B" +
        "  slab B" + "  ratio" + "  baseline",
    );
    for (const c of tw) {
      const v = (m: string) => find(c, true, m)?.value;
      const mem = find(c, true, "tw_mem_bytes_per_conn");
      lines.push(
        c.padEnd(22) + fmt(v("tw_conns"), 0).padStart(10) + fmt(v("tw_heap_bytes_per_conn"), 0).padStart(8) +
          fmt(v("tw_heap_bytes_per_conn_at_once"), 0).padStart(9) + fmt(v("tw_rss_bytes_per_conn"), 0).padStart(8) +
          fmt(v("tw_record_bytes_per_conn"), 0).padStart(10) +
          fmt(v("tw_tables_bytes_per_conn"), 0).padStart(10) +
          fmt(v("tw_kernel_bytes_per_conn"), 0).padStart(10) +
          fmt(v("tw_slab_bytes_per_conn"), 0).padStart(8) +
          ratio(mem?.ratio ?? null).padStart(7) + "  " + (mem?.baseline ?? "-"),
      );
    }
    for (const c of tw.filter((x) => x.startsWith("luna"))) {
      const v = (m: string) => find(c, true, m)?.value;
      const b = v("tw_heap_bytes_per_conn") ?? NaN;
      lines.push(
        `goal <= ${timeWaitGoalBytes} B of heap per TIME-WAIT connection: ${c} ${fmt(b, 0)} B ` +
          `(records alone ${fmt(v("tw_record_bytes_per_conn"), 0)} B, ` +
          `all of the TCP layer's tables with them ${fmt(v("tw_tables_bytes_per_conn"), 0)} B): ` +
          (b <= timeWaitGoalBytes ? "met" : "not met"),
      );
    }
  }
  const actives = [
    ...new Set(cs.map((r) => r.metric.match(/^echo(\d+)_req_per_s$/)?.[1]).filter((x) => x !== undefined)),
  ].map(Number).sort((a, b) => a - b);
  if (actives.length > 0) {
    lines.push(
      "",
      "concurrency: 64-byte echo, closed loop over 1 and 16 active connections, with the idle connections open and",
      "without them (the same processes, just before they were opened); ratio: with / without",
    );
    lines.push(
      "active".padStart(6) + "  " + "config".padEnd(22) + "idle".padStart(7) + "    req/s" + "  p50 µs" + "  p99 µs" +
        " p999 µs" + "   | without:  req/s" + "  p50 µs" + "  p99 µs" + "  p50 ratio" + "  p99 ratio",
    );
    for (const a of actives) {
      for (const c of configs) {
        const w = (m: string) => find(c, true, `echo${a}_${m}`);
        const wo = (m: string) => find(c, false, `echo${a}_${m}`);
        if (!w("req_per_s") && !wo("req_per_s")) continue;
        const idle = find(c, true, "idle_conns")?.value;
        const r = (m: string) => {
          const x = w(m)?.value;
          const y = wo(m)?.value;
          return x !== undefined && y !== undefined && y > 0 ? ratio(x / y) : "-";
        };
        lines.push(
          String(a).padStart(6) + "  " + c.padEnd(22) + fmt(idle, 0).padStart(7) +
            fmt(w("req_per_s")?.value, 0).padStart(9) + fmt(w("p50_us")?.value).padStart(8) +
            fmt(w("p99_us")?.value, 0).padStart(8) + fmt(w("p999_us")?.value, 0).padStart(8) + "   |" +
            fmt(wo("req_per_s")?.value, 0).padStart(15) + fmt(wo("p50_us")?.value).padStart(8) +
            fmt(wo("p99_us")?.value, 0).padStart(8) + r("p50_us").padStart(11) + r("p99_us").padStart(11),
        );
      }
    }
  }
  return lines;
}

/** `down_tbf_mbit_per_s_loss0.1` as its parts. */
function lossyParts(metric: string): { dir: string; tbf: boolean; loss: number } | undefined {
  const m = metric.match(/^(down|up)(_tbf)?_mbit_per_s_loss([\d.]+)$/);
  return m ? { dir: m[1], tbf: m[2] !== undefined, loss: Number(m[3]) } : undefined;
}

/** The lossy table: goodput per direction, rate limit and loss rate, luna-ts beside the kernel. */
function lossyTable(recs: BenchRecord[]): string[] {
  const ls = recs.filter((r) => r.workload === "lossy" && lossyParts(r.metric));
  if (ls.length === 0) return [];
  const lunas = [...new Set(ls.map((r) => r.config))].filter((c) => !isBase(c));
  const lines = [
    "",
    "lossy: one transfer through random loss (iptables statistic in a router, both directions), Mbit/s of goodput",
    "(median of rounds; ratio luna-ts / kernel); down: luna serve http -> curl; up: nc -> luna serve discard;",
    "tbf: with a 200 Mbit/s tc tbf on the router's veths. Failed transfers are left out of the medians (see below)",
  ];
  lines.push(
    "direction".padEnd(14) + "loss".padStart(6) + "  " + "config".padEnd(22) + "Mbit/s".padStart(8) +
      " spread" +
      "  kernel" + "  ratio" + "  rounds",
  );
  const metrics = [...new Set(ls.map((r) => r.metric))].sort((a, b) => {
    const x = lossyParts(a)!;
    const y = lossyParts(b)!;
    return x.dir !== y.dir
      ? (x.dir === "down" ? -1 : 1)
      : x.tbf !== y.tbf
      ? (x.tbf ? 1 : -1)
      : x.loss - y.loss;
  });
  let last = "";
  for (const m of metrics) {
    const p = lossyParts(m)!;
    const head = `${p.dir}${p.tbf ? " 200M" : ""}`;
    if (head !== last && last !== "") lines.push("");
    last = head;
    const configs = lunas.length > 0 ? lunas : [...new Set(ls.map((r) => r.config))];
    for (const c of configs) {
      const r = ls.find((x) => x.config === c && x.metric === m);
      const base = isBase(c) ? c : baselineOf("lossy", c);
      const k = ls.find((x) => x.config === base && x.metric === m);
      lines.push(
        head.padEnd(14) + `${p.loss}%`.padStart(6) + "  " + c.padEnd(22) + fmt(r?.value, 0).padStart(8) +
          (r ? pct(r.spread) : "-").padStart(7) + fmt(k?.value, 0).padStart(8) +
          ratio(r?.ratio ?? null).padStart(7) +
          "  " + (r?.rounds.map((v) => v.toFixed(0)).join(" ") ?? "-"),
      );
    }
  }
  return lines;
}

/** `rpc_tbf_p99_us_loss0.1` as its parts. */
function lossyRpcParts(metric: string): { tbf: boolean; name: string; loss: number } | undefined {
  const m = metric.match(/^rpc(_tbf)?_(ops_per_s|p50_us|p99_us|p999_us)_loss([\d.]+)$/);
  return m ? { tbf: m[1] !== undefined, name: m[2], loss: Number(m[3]) } : undefined;
}

/** The lossyrpc table: storage RPC through random loss, ops/s and p99 per loss rate, luna-ts beside the kernel. */
function lossyRpcTable(recs: BenchRecord[]): string[] {
  const ls = recs.filter((r) => r.workload === "lossyrpc" && lossyRpcParts(r.metric));
  if (ls.length === 0) return [];
  const lines = [
    "",
    "lossyrpc: storage RPC (16 connections, 64 KiB answers) through random loss (the lossy router), median of",
    "rounds; ratio luna-ts / the C epoll server on the kernel (for p99, below 1 is better); tbf: 200 Mbit/s",
    "rate".padEnd(12) + "loss".padStart(6) + "  " + "config".padEnd(22) + "op/s".padStart(8) + "  kernel" +
    "  ratio" + "  p99 ms" + "  kernel" + "  ratio",
  ];
  const keys = [...new Set(ls.map((r) => {
    const p = lossyRpcParts(r.metric)!;
    return `${p.tbf ? 1 : 0}|${p.loss}`;
  }))].sort((a, b) => {
    const [ta, la] = a.split("|").map(Number);
    const [tb, lb] = b.split("|").map(Number);
    return ta !== tb ? ta - tb : la - lb;
  });
  const lunas = [...new Set(ls.map((r) => r.config))].filter((c) => !isBase(c));
  for (const key of keys) {
    const [t, loss] = key.split("|").map(Number);
    const metric = (name: string) => `rpc${t === 1 ? "_tbf" : ""}_${name}_loss${loss}`;
    for (const c of lunas) {
      const ops = ls.find((r) => r.config === c && r.metric === metric("ops_per_s"));
      const p99 = ls.find((r) => r.config === c && r.metric === metric("p99_us"));
      lines.push(
        (t === 1 ? "200 Mbit/s" : "line rate").padEnd(12) + `${loss}%`.padStart(6) + "  " + c.padEnd(22) +
          fmt(ops?.value, 0).padStart(8) + fmt(ops?.baseline_value ?? undefined, 0).padStart(8) +
          ratio(ops?.ratio ?? null).padStart(7) + fmt(p99 ? p99.value / 1000 : undefined, 1).padStart(8) +
          fmt(p99?.baseline_value ? p99.baseline_value / 1000 : undefined, 1).padStart(8) +
          ratio(p99?.ratio ?? null).padStart(7),
      );
    }
  }
  return lines;
}

/** The ecn workload's goal (issue 14): DCTCP's p99 RTT at most `p99` x CUBIC's, at `goodput` x its goodput. */
const ecnGoal = { p99: 0.5, goodput: 0.95 };

/** The ecn table: per configuration, goodput and the ping's RTT through the marking queue, against CUBIC. */
function ecnTable(recs: BenchRecord[]): string[] {
  const es = recs.filter((r) => r.workload === "ecn");
  if (es.length === 0) return [];
  const find = (c: string, m: string) => es.find((r) => r.config === c && r.metric === m);
  const q = (es[0].notes?.[0] as { queue?: Record<string, number> } | undefined)?.queue;
  const lines = [
    "",
    "ecn: luna-ts to luna-ts over memif through a marking queue on the sender's transmit side" +
      (q ? ` (${q.bandwidthBps / 1e6} Mbit/s, K ${q.ceThresholdBytes / 1000} KB, ${q.queueBytesMax / 1000} KB)` : ""),
    "2 bulk connections and a 64-byte ping-pong; median of rounds; ratio against cubic (no ECN) in the same run",
    "config".padEnd(12) + "Mbit/s".padStart(8) + " spread" + "  ratio" + "  RTT p50 µs" + "  p99 µs" + "  ratio" +
      "  p999 µs" + "  queue p50 KB" + "  p99 KB" + "  CE marks" + "  drops" + "  stalled",
  ];
  const configs = [...new Set(es.map((r) => r.config))];
  const mid = (xs: unknown[]) => {
    const ns = xs.map(Number).filter((x) => Number.isFinite(x));
    return ns.length > 0 ? median(ns) : NaN;
  };
  type Notes = { ce_marked?: number; queue_drops?: number; stalled?: number };
  const notesOf = (c: string) => (find(c, "goodput_mbit_per_s")?.notes ?? []) as Notes[];
  const stalled = (c: string) => mid(notesOf(c).map((n) => n.stalled));
  for (const c of configs) {
    const g = find(c, "goodput_mbit_per_s");
    const p99 = find(c, "rtt_p99_us");
    const notes = notesOf(c);
    lines.push(
      c.padEnd(12) + fmt(g?.value, 0).padStart(8) + (g ? pct(g.spread) : "-").padStart(7) +
        ratio(g?.ratio ?? null).padStart(7) + fmt(find(c, "rtt_p50_us")?.value, 0).padStart(12) +
        fmt(p99?.value, 0).padStart(8) + ratio(p99?.ratio ?? null).padStart(7) +
        fmt(find(c, "rtt_p999_us")?.value, 0).padStart(9) +
        fmt((find(c, "queue_p50_bytes")?.value ?? NaN) / 1000, 1).padStart(14) +
        fmt((find(c, "queue_p99_bytes")?.value ?? NaN) / 1000, 1).padStart(8) +
        fmt(mid(notes.map((n) => n.ce_marked)), 0).padStart(10) +
        fmt(mid(notes.map((n) => n.queue_drops)), 0).padStart(7) +
        `${fmt(100 * stalled(c), 0)}%`.padStart(9),
    );
  }
  lines.push(
    "stalled: the share of the measured time the sender spent in gaps of over 1 ms between polls (off the CPU,",
    "or collecting): its queue keeps draining meanwhile, so a short queue leaves the link idle. Figures with",
    "much of it measure the machine's load more than the controllers.",
  );
  const g = find("dctcp", "goodput_mbit_per_s")?.ratio ?? null;
  const p = find("dctcp", "rtt_p99_us")?.ratio ?? null;
  if (g !== null && p !== null) {
    const busy = Math.max(stalled("dctcp"), stalled("cubic"));
    lines.push(
      `goal: dctcp p99 RTT <= ${ecnGoal.p99}x cubic's at >= ${ecnGoal.goodput}x its goodput: p99 ${ratio(p)}, ` +
        `goodput ${ratio(g)}: ${p <= ecnGoal.p99 && g >= ecnGoal.goodput ? "met" : "not met"}` +
        (busy > 0.1 ? ` (the sender stalled ${fmt(100 * busy, 0)}% of the time: a loaded machine)` : ""),
    );
  }
  return lines;
}

/** The forwarding table, from its records. */
export function forwardTable(recs: BenchRecord[]): string {
  const fw = recs.filter((r) => r.workload === "forward64" && r.metric === "pps");
  if (fw.length === 0) return "";
  const best = (c: string) =>
    recs.find((r) => r.workload === "forward64" && r.metric === "pps_max" && r.config === c);
  const lines = ["", "64-byte frames forwarded over net_memif (receive, swap MACs, send)"];
  lines.push(
    "config".padEnd(20) + "median Mpps".padStart(12) + "  ratio" + "   best Mpps".padStart(12) + "  ratio" +
      "   rounds (Mpps)",
  );
  for (const r of fw) {
    const b = best(r.config);
    lines.push(
      r.config.padEnd(20) + (r.value / 1e6).toFixed(2).padStart(12) + ratio(r.ratio).padStart(7) +
        ((b?.value ?? NaN) / 1e6).toFixed(2).padStart(12) + ratio(b?.ratio ?? null).padStart(7) + "   " +
        r.rounds.map((v) => (v / 1e6).toFixed(2)).join(" "),
    );
  }
  lines.push(`ratio: against ${fw[0].baseline ?? "-"} (dpdk-testpmd, C) doing the same job in the same run`);
  return lines.join("\n");
}

const isBase = (config: string) => config.includes("-kernel-") || config.startsWith("testpmd");

/** Kernel curves: a colour per runtime, a dash per path; luna-ts: a colour per device and mode. */
function curveStyle(config: string): { colour?: string; dash?: string } {
  const colours: Record<string, string> = {
    bun: "#333",
    deno: "#999",
    node: "#b08900",
    "luna-memif-batch": "#2f6fdf",
    "luna-memif-inline": "#0b7285",
    "luna-afpacket-batch": "#d9480f",
    "luna-afpacket-inline": "#862e9c",
  };
  if (isBase(config)) {
    return { colour: colours[config.split("-")[0]], dash: config.endsWith("-lo") ? "6,3" : "2,3" };
  }
  return { colour: colours[config] };
}

/** The SVG of a run: throughput bars against the baselines, then latency CDFs. */
export function resultsChart(
  recs: BenchRecord[],
  cdfList: { config: string; conns: number; points_us: [number, number][] }[],
  bulkBytes: number,
): string {
  const charts: string[] = [];
  const barsOf = (w: string, metric: string, conns: number | null, scale: number): Bar[] => {
    const rs = recs.filter((r) =>
      r.workload === w && r.metric === metric && (conns === null || r.conns === conns)
    );
    return rs.map((r) => ({
      label: r.config,
      value: r.value / scale,
      baseline: isBase(r.config),
      note: r.ratio === null ? undefined : `(${r.ratio.toFixed(2)}x)`,
      min: r.min / scale,
      max: r.max / scale,
    }));
  };
  const fw = barsOf("forward64", "pps_max", null, 1e6);
  if (fw.length > 0) {
    charts.push(barChart({ title: "64-byte forwarding over net_memif (Mpps, best of rounds)", bars: fw }));
  }
  const conns = (w: string) =>
    [...new Set(recs.filter((r) => r.workload === w).map((r) => r.conns ?? 0))].sort((a, b) => a - b);
  for (const n of conns("echo")) {
    charts.push(
      barChart({
        title: `echo 64 B, ${n} conn(s): thousand requests/s (median)`,
        bars: barsOf("echo", "req_per_s", n, 1000),
      }),
    );
  }
  for (const n of conns("bulk")) {
    const mib = Math.round(bulkBytes / 2 ** 20);
    charts.push(
      barChart({
        title: `bulk, one connection, ${mib} MiB one way: Gbit/s (median)`,
        bars: barsOf("bulk", "gbit_per_s", n, 1),
      }),
    );
  }
  for (const [w, resp] of [["storage4k", "4 KiB"], ["storage64k", "64 KiB"]] as const) {
    for (const n of conns(w)) {
      charts.push(
        barChart({
          title: `storage RPC, 64 B request, ${resp} answer, ${n} conns: thousand op/s (median)`,
          bars: barsOf(w, "ops_per_s", n, 1000),
        }),
      );
    }
  }
  for (const n of conns("connrate")) {
    charts.push(
      barChart({
        title: `connection rate, ${n} at a time: thousand conn/s (median)`,
        bars: barsOf("connrate", "conn_per_s", n, 1000),
      }),
    );
  }
  const memBars = recs.filter((r) => r.workload === "concurrency" && r.metric === "mem_bytes_per_conn").map((r) => ({
    label: `${r.config} (${fmt(r.conns, 0)})`,
    value: r.value,
    baseline: isBase(r.config),
    note: r.ratio === null ? undefined : `(${r.ratio.toFixed(2)}x)`,
  }));
  if (memBars.length > 0) {
    charts.push(
      barChart({ title: "concurrency: bytes per idle connection, server side (connections held)", bars: memBars }),
    );
  }
  const twBars = recs.filter((r) => r.workload === "concurrency" && r.metric === "tw_mem_bytes_per_conn").map(
    (r) => ({
      label: `${r.config} (${
        fmt(
          recs.find((x) =>
            x.workload === "concurrency" && x.config === r.config &&
            x.metric === "tw_conns"
          )?.value,
          0,
        )
      })`,
      value: r.value,
      baseline: isBase(r.config),
      note: r.ratio === null ? undefined : `(${r.ratio.toFixed(2)}x)`,
    }),
  );
  if (twBars.length > 0) {
    charts.push(
      barChart({
        title: "concurrency: bytes per TIME-WAIT connection, server side (luna-ts heap; kernel tw_sock_TCP)",
        bars: twBars,
      }),
    );
  }
  for (const a of [1, 16]) {
    const bars = recs.filter((r) => r.workload === "concurrency" && r.metric === `echo${a}_p99_us`).map((r) => ({
      label: `${r.config} (${(r.conns ?? 0) > 0 ? fmt(r.conns, 0) : "none"})`,
      value: r.value,
      baseline: isBase(r.config),
      note: r.no_idle_ratio === undefined || r.no_idle_ratio === null ? undefined : `(${r.no_idle_ratio.toFixed(2)}x)`,
    }));
    if (bars.length > 0) {
      charts.push(
        barChart({ title: `concurrency: echo p99 µs, ${a} active conn(s) (idle ones in brackets)`, bars }),
      );
    }
  }
  // Lossy: goodput by loss rate, one chart per direction and rate limit.
  for (const dir of ["down", "up"]) {
    for (const tbf of [false, true]) {
      const bars = recs.filter((r) => {
        const p = r.workload === "lossy" ? lossyParts(r.metric) : undefined;
        return p !== undefined && p.dir === dir && p.tbf === tbf;
      }).sort((a, b) => lossyParts(a.metric)!.loss - lossyParts(b.metric)!.loss).map((r) => ({
        label: `${r.config} ${lossyParts(r.metric)!.loss}%`,
        value: r.value,
        baseline: isBase(r.config),
        note: r.ratio === null || isBase(r.config) ? undefined : `(${r.ratio.toFixed(2)}x)`,
        min: r.min,
        max: r.max,
      }));
      if (bars.length > 0) {
        charts.push(
          barChart({
            title: `lossy, ${
              dir === "down" ? "luna-ts sending (curl downloads)" : "luna-ts receiving (nc uploads)"
            }${tbf ? ", 200 Mbit/s tbf" : ""}: Mbit/s by loss`,
            bars,
          }),
        );
      }
    }
  }
  // ECN: goodput and p99 RTT per configuration, with the ratio against cubic.
  for (
    const [metric, title, scale] of [
      ["goodput_mbit_per_s", "ecn: bulk goodput through the marking queue, Mbit/s (median)", 1],
      ["rtt_p99_us", "ecn: ping p99 RTT through the marking queue, ms (median)", 1000],
    ] as const
  ) {
    const bars = barsOf("ecn", metric, null, scale).map((b) => ({ ...b, baseline: b.label === "cubic" }));
    if (bars.length > 0) charts.push(barChart({ title, bars }));
  }
  for (const n of [...new Set(cdfList.map((c) => c.conns))].sort((a, b) => a - b)) {
    const curves = cdfList.filter((c) => c.conns === n).map((c) => ({
      label: c.config,
      points: c.points_us,
      baseline: isBase(c.config),
      ...curveStyle(c.config),
    }));
    charts.push(cdfChart({ title: `echo latency CDF, ${n} conn(s) (median round)`, curves }));
  }
  return stackCharts(charts);
}
