// What the benchmark's child programs share: commands read line by line from
// stdin, and the heap measured the same way under Bun and Deno.

/** Calls `handler` with each line of stdin; "quit" when stdin ends. */
export function onLines(handler: (line: string) => void): void {
  process.stdin.setEncoding("utf8");
  let buf = "";
  process.stdin.on("data", (d: string) => {
    buf += d;
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (line.length > 0) handler(line);
    }
  });
  process.stdin.on("end", () => handler("quit"));
}

import { writeSync } from "node:fs";
import process from "node:process";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

/** Bytes of JavaScript heap in use now. */
export function heapUsed(): number {
  return typeof g.Bun !== "undefined" ? process.memoryUsage().heapUsed : g.Deno.memoryUsage().heapUsed;
}

/** A full collection where the runtime offers one (Bun; Deno with --v8-flags=--expose-gc). */
export function fullGc(): void {
  if (typeof g.Bun !== "undefined") g.Bun.gc(true);
  else if (typeof g.gc === "function") g.gc();
}

/**
 * Heap around a measured stretch, bytes: before it (after a full collection),
 * after it, and after another full collection. Under Bun the heap size is
 * only brought up to date by a collection, so `after` mostly repeats
 * `before`: what was allocated is read from JSC's GC log instead ({@link gc}).
 */
export interface HeapMarks {
  before: number;
  after: number;
  afterGc: number;
  gc?: GcActivity;
  /** What the process did in the stretch (requests, connections, bytes), to put the allocation per unit. */
  work?: Record<string, number | undefined>;
}

/** What JSC's GC log (BUN_JSC_logGC=1) says about a stretch between two forced collections. */
export interface GcActivity {
  /** Collections in the stretch, not counting the forced ones around it. */
  collections: number;
  /** Their pauses, summed. */
  pauseMs: number;
  /**
   * Bytes allocated in the stretch: the heap at the start of each collection
   * less what the one before left, summed up to the forced collection after
   * the stretch (KiB resolution). Null when the log does not frame the stretch.
   */
  allocatedBytes: number | null;
}

/** Environment that makes Bun log every collection to stderr, for {@link gcActivity}. */
export const gcLogEnv: Record<string, string> = { BUN_JSC_logGC: "1" };

/** Marks the start of a stretch: a full collection, then a line in the GC log (stderr, written synchronously). */
export function stretchStart(): void {
  fullGc();
  writeSync(2, "GCMARK start\n");
}

/** Marks the end of a stretch: a line in the GC log, then a full collection (whose start shows the heap). */
export function stretchEnd(): void {
  writeSync(2, "GCMARK end\n");
}

/**
 * One collection in JSC's log: a "START M <heap>kb => <kind>Collection" line,
 * and, on it or on a continuation line after it, "=> <heap after>kb,
 * p=<pause>ms ... END]".
 */
interface LoggedGc {
  line: number;
  startKb: number;
  endKb: number;
  pauseMs: number;
}

function loggedGcs(lines: string[]): LoggedGc[] {
  const out: LoggedGc[] = [];
  let open: LoggedGc | undefined;
  for (let i = 0; i < lines.length; i++) {
    const s = lines[i].match(/: START M (\d+)kb => \w+Collection/);
    if (s) open = { line: i, startKb: Number(s[1]), endKb: NaN, pauseMs: 0 };
    const e = open ? lines[i].match(/=> (\d+)kb, p=([\d.]+)ms[^\]]*END\]/) : null;
    if (open && e) {
      open.endKb = Number(e[1]);
      open.pauseMs = Number(e[2]);
      out.push(open);
      open = undefined;
    }
  }
  return out;
}

/** Reads a stretch framed by {@link stretchStart} and {@link stretchEnd} out of a child's stderr. */
export function gcActivity(log: string): GcActivity {
  const lines = log.split("\n");
  const i0 = lines.indexOf("GCMARK start");
  const i1 = lines.indexOf("GCMARK end", i0 + 1);
  if (i0 < 0 || i1 < 0) return { collections: 0, pauseMs: 0, allocatedBytes: null };
  const gcs = loggedGcs(lines);
  const before = gcs.filter((g) => g.line < i0).at(-1);
  const inside = gcs.filter((g) => g.line > i0 && g.line < i1);
  const after = gcs.find((g) => g.line > i1);
  let allocatedBytes: number | null = null;
  if (before && after) {
    let left = before.endKb;
    let kb = 0;
    for (const g of [...inside, after]) {
      kb += Math.max(0, g.startKb - left);
      left = g.endKb;
    }
    allocatedBytes = kb * 1024;
  }
  return {
    collections: inside.length,
    pauseMs: Number(inside.reduce((a, g) => a + g.pauseMs, 0).toFixed(3)),
    allocatedBytes,
  };
}

/** Prints one result line the parent parses. */
export function report(tag: string, value: unknown): void {
  console.log(`${tag} ${JSON.stringify(value)}`);
}

/** What a bench process's config says of its stack (bench/tcp.ts memifEnd, plus the MTU). */
export interface BenchEnd {
  device: string;
  address: string;
  mode: "batch" | "inline";
  prefix: string;
  lcores: string;
  /** The link's MTU (9000: jumbo frames); default the device's. */
  mtu?: number;
  /** "always": checksums computed and verified on memif too (the stack's `checksums`); default "auto". */
  checksums?: "auto" | "always";
  /** Default gateway (a routed lab); default none. */
  gateway?: string;
  /** EAL memory on hugepages (the zero-copy memif configuration's server); default `--no-huge`. */
  hugepages?: boolean;
}

/**
 * The createStack config of a bench process: the stack alone on its
 * interface (the figures measure luna-ts, not the kernel's exception path),
 * a 16,383-buffer zone, and `tcp` as the end needs it.
 */
export function benchStackConfig(end: BenchEnd, tcp: Record<string, number | boolean | string>) {
  // LUNA_BENCH_GSO=off: MSS-sized segments only (tcp.segmentationOffload false), to compare.
  if (process.env.LUNA_BENCH_GSO === "off") tcp = { ...tcp, segmentationOffload: false };
  // LUNA_BENCH_GRO=off: no receive coalescing (receiveOffload false; on by default over memif), to compare.
  const gro = process.env.LUNA_BENCH_GRO === "off" ? { receiveOffload: false } : {};
  // LUNA_BENCH_LOSS=rfc6675: the RFC 6675 scoreboard alone (tcp.lossDetection), to compare with RACK-TLP.
  const loss = process.env.LUNA_BENCH_LOSS;
  if (loss !== undefined && loss !== "") {
    if (loss !== "rack" && loss !== "rfc6675") {
      throw new Error(`LUNA_BENCH_LOSS: rack or rfc6675, got ${loss}`);
    }
    tcp = { ...tcp, lossDetection: loss };
  }
  // LUNA_BENCH_BUFFERS=N: the zone's buffers on each side (default 16383), to see what the pool's size buys.
  const buffersEnv = process.env.LUNA_BENCH_BUFFERS;
  const buffers = buffersEnv !== undefined && buffersEnv !== "" ? Number(buffersEnv) : 16383;
  if (!Number.isInteger(buffers) || buffers < 256) {
    throw new Error(`LUNA_BENCH_BUFFERS: an integer >= 256, got ${buffersEnv}`);
  }
  // LUNA_BENCH_TXFLUSH=N: txFlushFrames (answers leave once N wait during a burst; 0: at its end), to compare.
  const txFlushEnv = process.env.LUNA_BENCH_TXFLUSH;
  const txFlush = txFlushEnv !== undefined && txFlushEnv !== "" ? { txFlushFrames: Number(txFlushEnv) } : {};
  return {
    ...gro,
    ...txFlush,
    device: end.device,
    address: end.address,
    mode: end.mode,
    ...(end.mtu !== undefined ? { mtu: end.mtu } : {}),
    ...(end.checksums !== undefined ? { checksums: end.checksums } : {}),
    ...(end.gateway !== undefined ? { gateway: end.gateway } : {}),
    coexist: false,
    buffers,
    eal: {
      prefix: end.prefix,
      lcores: end.lcores,
      memoryMb: buffers > 16383 ? 1024 : 512,
      ...(end.hugepages ? { hugepages: true } : {}),
    },
    tcp,
  };
}

/**
 * The client's TCP counters that say it lost something in a stretch: retransmissions, and what it
 * dropped of what it received (the zone running low, a connection's share full).
 */
export const clientLossKeys: readonly string[] = [
  "retransSegs",
  "retransTimeouts",
  "tlpProbes",
  "noBufferDrops",
  "poolPressureDrops",
  "rcvShareDrops",
  "rcvWindowTrims",
];

/** The value after `--NAME` on the command line, or `dflt`. */
export function flagValue(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
}
