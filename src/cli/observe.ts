/**
 * `luna ls`, `luna stats`, `luna conns` and `luna capture`: a look into
 * running stacks through their control sockets (src/control).
 *
 * @module
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { listStacks, pickStack, request } from "../control/client.ts";
import type { ConnRow } from "../control/conns.ts";
import { stateNames } from "../control/conns.ts";
import { UsageError } from "./args.ts";
import { addressArg, intFlag, type Io, nameArg, numberFlag, parseOptions, stringFlag } from "./options.ts";

/**
 * Writes all of `bytes` to `fd`, waiting while a pipe is full (stdout may be
 * a non-blocking pipe, as into tcpdump, where a write can take part or none).
 */
export function writeAll(fd: number, bytes: Uint8Array): void {
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (let at = 0, tries = 0; at < bytes.length;) {
    try {
      at += writeSync(fd, bytes, at, bytes.length - at);
      tries = 0;
    } catch (e) {
      if ((e as { code?: string }).code !== "EAGAIN" || ++tries > 60_000) throw e;
      Atomics.wait(nap, 0, 0, 1);
    }
  }
}

/** A subcommand: its help text and what it does. */
export interface Subcommand {
  usage: string;
  run(argv: string[], io: Io): Promise<number>;
}

const dirHelp =
  "  --dir DIR         the control sockets' directory (default $LUNA_CONTROL_DIR, else /run/luna)";

function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${(s / 3600).toFixed(1)}h`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) =>
    r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("  ").trimEnd()
  );
}

/** `luna ls`. */
export const ls: Subcommand = {
  usage: `usage: luna ls [--json] [--dir DIR]

Lists the stacks running on this host that have a control socket (luna serve
always does; a library stack with config control: true), with their process,
device, address, loop mode, age and connections. A socket whose process is gone
is listed as stale (the next stack of that name replaces it).

  --json            one JSON object per stack, one per line
${dirHelp}`,
  async run(argv, io) {
    const p = parseOptions(argv, { "--json": false, "--dir": true }, 0);
    if (p.help) return help(io, this.usage);
    const entries = await listStacks(stringFlag(p, "--dir"));
    if (p.flags.has("--json")) {
      for (const e of entries) io.out(JSON.stringify(e));
      return 0;
    }
    if (entries.length === 0) {
      io.out("no running stacks (none has a control socket here)");
      return 0;
    }
    const rows = [["NAME", "PID", "DEVICE", "ADDRESS", "MODE", "AGE", "CONNS"]];
    for (const e of entries) {
      const i = e.info;
      if (i === undefined) {
        const why = e.status === "stale"
          ? "stale (its process is gone)"
          : e.status === "denied"
          ? "another user's (permission denied)"
          : `error: ${e.error}`;
        rows.push([e.name, "-", "-", "-", "-", "-", why]);
      } else {
        rows.push([
          e.name,
          String(i.pid),
          String(i.device),
          String(i.address),
          String(i.mode),
          age(Date.now() - Number(i.startedAtMs)),
          String(i.connections),
        ]);
      }
    }
    for (const l of table(rows)) io.out(l);
    return 0;
  },
};

function help(io: Io, usage: string): number {
  io.out(usage);
  return 0;
}

type Stats = Record<string, Record<string, unknown>> & Record<string, unknown>;

/** Every drop the stack counts, by reason (`ip.malformed.shortFrame`, `tcp.noListener`, ...). */
export function dropsOf(s: Stats): Record<string, number> {
  const out: Record<string, number> = {};
  const add = (k: string, v: unknown) => {
    if (typeof v === "number") out[k] = v;
  };
  const ip = s.ip as Record<string, Record<string, number>>;
  for (const [k, v] of Object.entries(ip.malformed ?? {})) add(`ip.malformed.${k}`, v);
  for (const [k, v] of Object.entries(ip.martians ?? {})) add(`ip.martian.${k}`, v);
  for (const k of ["notForUs", "noBufferDrops", "txDropped"]) add(`link.${k}`, ip.link?.[k]);
  for (const k of ["unresolvedDrops", "queueDrops"]) add(`arp.${k}`, ip.arp?.[k]);
  for (const k of ["notForUs", "fragments", "outNoRoutes"]) add(`ip.${k}`, ip.ip?.[k]);
  add("udp.noService", ip.udp?.noService);
  const tcp = s.tcp as Record<string, number>;
  for (
    const k of [
      "inErrs",
      "noListener",
      "connLimitRefused",
      "listenDrops",
      "synsShed",
      "pawsDrops",
      "noTimestampDrops",
      "noBufferDrops",
      "poolPressureDrops",
    ]
  ) add(`tcp.${k}`, tcp[k]);
  const port = s.port as Record<string, number> | undefined;
  for (const k of ["imissed", "ierrors", "oerrors", "rxNombuf", "rxOversizeDropped", "rxMultisegDropped"]) {
    add(`port.${k}`, port?.[k]);
  }
  const kernel = s.kernel as Record<string, unknown> | undefined;
  const kd = kernel?.drops as Record<string, number> | undefined;
  for (const [k, v] of Object.entries(kd ?? {})) add(`kernel.${k}`, v);
  return out;
}

/** The counters `luna stats` shows, with their rates. */
function rows(s: Stats): [string, number][] {
  const ip = s.ip as Record<string, Record<string, number>>;
  const tcp = s.tcp as Record<string, number>;
  const loop = s.loop as Record<string, number>;
  return [
    ["frames in", ip.link.rxFrames],
    ["frames out", ip.link.txFrames],
    ["bytes in", ip.link.rxBytes],
    ["bytes out", ip.link.txBytes],
    ["tcp segments in", tcp.inSegs],
    ["tcp segments out", tcp.outSegs],
    ["retransmitted", tcp.retransSegs],
    ["retrans. timeouts", tcp.retransTimeouts],
    ["resets sent", tcp.outRsts],
    ["passive opens", tcp.passiveOpens],
    ["active opens", tcp.activeOpens],
    ["pings answered", ip.icmp.inEchos],
    ["loop iterations", loop.iterations],
  ];
}

function num(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/** The live view of a snapshot, with rates against `prev` over `seconds`. */
export function renderStats(name: string, s: Stats, prev: Stats | undefined, seconds: number): string[] {
  const rate = (now: number, before: number | undefined) =>
    before === undefined || seconds <= 0 ? "" : num((now - before) / seconds);
  const lines = [`luna stats ${name}: ${s.device} (${s.mode})`];
  const pr = prev !== undefined ? new Map(rows(prev)) : undefined;
  const body: string[][] = [["", "total", "per second"]];
  for (const [k, v] of rows(s)) body.push([k, String(v), rate(v, pr?.get(k))]);
  const zone = s.zone as Record<string, number>;
  const tw = s.timeWait as Record<string, number>;
  body.push(["connections", String(s.connections), `(${tw.count} in TIME-WAIT)`]);
  body.push([
    "pool in use",
    `${zone.inUse} of ${zone.capacity}`,
    `(${(100 * zone.inUse / Math.max(1, zone.capacity)).toFixed(1)}%)`,
  ]);
  const drops = dropsOf(s);
  const pd = prev !== undefined ? dropsOf(prev) : undefined;
  const shown = Object.entries(drops).filter(([k, v]) => v > 0 || (pd?.[k] ?? 0) > 0);
  for (const l of table(body)) lines.push(l);
  lines.push(shown.length === 0 ? "drops: none" : "drops by reason:");
  if (shown.length > 0) {
    const d: string[][] = shown.map(([k, v]) => [`  ${k}`, String(v), rate(v, pd?.[k])]);
    for (const l of table(d)) lines.push(l);
  }
  return lines;
}

/** `luna stats`. */
export const stats: Subcommand = {
  usage: `usage: luna stats [NAME] [--json] [--interval S] [--count N] [--dir DIR]

Shows a running stack's counters, refreshed in place like top: frames, bytes and
TCP segments in and out, retransmissions, resets, opens, loop iterations, each
with its rate per second; connections, the packet pool's use, and every drop by
its reason. NAME may be left out when one stack runs ('luna ls' lists them).

  --json            print one snapshot (everything the stack counts) as JSON and exit
  --interval S      seconds between refreshes (default 1)
  --count N         stop after N refreshes (default: until Ctrl-C)
${dirHelp}`,
  async run(argv, io) {
    const p = parseOptions(argv, { "--json": false, "--interval": true, "--count": true, "--dir": true }, 1);
    if (p.help) return help(io, this.usage);
    const interval = numberFlag(p, "--interval", 0.05, 3600, 1)!;
    const count = intFlag(p, "--count", 1, 1e9);
    const dir = stringFlag(p, "--dir");
    const name = await pickStack(nameArg(p.positional[0]), dir);
    const snap = async () => (await request(name, { op: "stats" }, () => {}, { dir, timeoutMs: 10_000 }));
    if (p.flags.has("--json")) {
      io.out(JSON.stringify(await snap()));
      return 0;
    }
    const tty = process.stdout.isTTY === true;
    let prev: Stats | undefined;
    let prevAt = 0;
    for (let i = 0; count === undefined || i < count; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, interval * 1000));
      const r = await snap();
      const s = r.stats as Stats;
      const at = Number(r.unixMs);
      const lines = renderStats(name, s, prev, (at - prevAt) / 1000);
      const m = r.memory as { heapUsed: number; rss: number } | undefined;
      if (m !== undefined) {
        lines.push(
          `memory: heap ${(m.heapUsed / 1e6).toFixed(1)} MB, resident ${(m.rss / 1e6).toFixed(1)} MB`,
        );
      }
      if (tty) process.stdout.write("\x1b[H\x1b[2J");
      else if (i > 0) io.out("");
      for (const l of lines) io.out(l);
      prev = s;
      prevAt = at;
    }
    return 0;
  },
};

function ms(n: number | null): string {
  return n === null ? "-" : n < 10 ? n.toFixed(2) : n.toFixed(1);
}

// Bits per second as `ss` prints rates: Mbps with one decimal.
function mbps(bits: number): string {
  return `${(bits / 1e6).toFixed(1)}Mbps`;
}

/** One connection as `ss -tin` prints it: the 4-tuple and queues, then the details. */
export function renderConn(c: ConnRow): string[] {
  const ssthresh = c.ssthresh === null || !Number.isFinite(c.ssthresh) ? "-" : String(c.ssthresh);
  return [
    `${c.state.padEnd(12)} ${String(c.recvQueue).padStart(8)} ${String(c.sendQueue).padStart(8)}  ${
      c.local.padEnd(21)
    } ${c.remote}`,
    `\t ${c.congestion} rtt:${ms(c.rttMs)}/${ms(c.rttvarMs)} rto:${
      ms(c.rtoMs)
    } mss:${c.mss} cwnd:${c.cwnd} ` +
    `ssthresh:${ssthresh} inflight:${c.inFlight} snd_wnd:${c.sndWnd} segs_in:${c.segsIn} segs_out:${c.segsOut} ` +
    `bytes_acked:${c.bytesAcked} bytes_received:${c.bytesReceived} retrans:${c.retransSegs}/${c.retransTimeouts}` +
    (c.bbr === undefined ? "" : ` bbr:(${c.bbr.state},bw:${mbps(c.bbr.bwBitsPerSecond)},mrtt:${
      c.bbr.minRttMs === null ? "-" : ms(c.bbr.minRttMs)
    },pacing_rate:${mbps(c.bbr.pacingRateBitsPerSecond)})`),
  ];
}

/** `luna conns`. */
export const conns: Subcommand = {
  usage: `usage: luna conns [NAME] [--state STATE] [--port N] [--json] [--dir DIR]

Lists a running stack's TCP connections like 'ss -tin': state, receive and send
queues (bytes), local and remote address; then the congestion controller, rtt/
rttvar and rto (ms), mss, cwnd and ssthresh (bytes), bytes in flight, the peer's
window, segments and bytes, retransmissions (segments/timeouts). Connections in
TIME-WAIT are kept as small records and counted at the end, not listed.

  --state STATE     only this state: ${stateNames.filter((n) => n !== "time-wait").join(", ")}
  --port N          only connections with port N at either end
  --json            one JSON object per connection, one per line
${dirHelp}`,
  async run(argv, io) {
    const p = parseOptions(argv, { "--state": true, "--port": true, "--json": false, "--dir": true }, 1);
    if (p.help) return help(io, this.usage);
    const state = stringFlag(p, "--state")?.toLowerCase();
    if (state !== undefined && !stateNames.includes(state)) {
      throw new UsageError("--state", `unknown state '${state}' (known: ${stateNames.join(", ")})`);
    }
    const port = intFlag(p, "--port", 1, 65535);
    const dir = stringFlag(p, "--dir");
    const json = p.flags.has("--json");
    const name = await pickStack(nameArg(p.positional[0]), dir);
    if (!json) {
      io.out(
        `${"State".padEnd(12)} ${"Recv-Q".padStart(8)} ${"Send-Q".padStart(8)}  ${"Local".padEnd(21)} Peer`,
      );
    }
    const end = await request(name, { op: "conns", state, port }, (f) => {
      if (f.kind !== "json") return;
      for (const c of (f.value.conns as ConnRow[] | undefined) ?? []) {
        if (json) io.out(JSON.stringify(c));
        else for (const l of renderConn(c)) io.out(l);
      }
    }, { dir, timeoutMs: 60_000 });
    if (!json) io.out(`${end.listed} listed; ${end.timeWait} in TIME-WAIT`);
    return 0;
  },
};

/** `luna capture`. */
export const capture: Subcommand = {
  usage: `usage: luna capture [NAME] -w FILE|- [-c COUNT] [--seconds S] [--port N] [--host IP] [--dir DIR]

Records the frames a running stack receives and sends, as a pcap file that
tcpdump and Wireshark read ('-w -': to stdout, as in luna capture -w - | tcpdump
-r -). Stops after COUNT frames, after S seconds, or on Ctrl-C, whichever comes
first. Large segments the device cuts (TSO/GSO) are recorded as sent, whole.

  -w FILE           where to write the pcap ('-': stdout)
  -c, --count N     stop after N frames
  --seconds S       stop after S seconds
  --port N          only TCP/UDP frames with port N at either end
  --host IP         only IPv4 frames from or to IP
${dirHelp}`,
  async run(argv, io) {
    const p = parseOptions(
      argv,
      { "-w": true, "--count": true, "--seconds": true, "--port": true, "--host": true, "--dir": true },
      1,
      { "-c": "--count" },
    );
    if (p.help) return help(io, this.usage);
    const file = stringFlag(p, "-w");
    if (file === undefined) throw new UsageError("-w", "required: a file, or - for stdout");
    const count = intFlag(p, "--count", 1, 1e9);
    const seconds = numberFlag(p, "--seconds", 0.001, 1e6);
    const port = intFlag(p, "--port", 1, 65535);
    const hostArg = stringFlag(p, "--host");
    const host = hostArg !== undefined ? addressArg("--host", hostArg) : undefined;
    const dir = stringFlag(p, "--dir");
    const name = await pickStack(nameArg(p.positional[0]), dir);
    let fd: number;
    try {
      fd = file === "-" ? 1 : openSync(file, "w", 0o644);
    } catch (e) {
      throw new UsageError("-w", `cannot write '${file}': ${(e as Error).message}`);
    }
    let stop: (() => void) | undefined;
    const onSigint = () => stop?.();
    process.on("SIGINT", onSigint);
    try {
      const end = await request(name, {
        op: "capture",
        count,
        ms: seconds !== undefined ? seconds * 1000 : undefined,
        port,
        host,
      }, (f) => {
        if (f.kind === "data") {
          writeAll(fd, f.bytes);
        }
      }, { dir, onSocket: (s) => (stop = () => s.end()) });
      io.err(
        `luna: ${end.records} frames captured${
          Number(end.dropped) > 0 ? `, ${end.dropped} dropped (the reader fell behind)` : ""
        }`,
      );
    } finally {
      process.off("SIGINT", onSigint);
      if (fd !== 1) closeSync(fd);
    }
    return 0;
  },
};
