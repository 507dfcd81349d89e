/**
 * `luna serve`: one app on one stack, until SIGINT or SIGTERM; then the
 * connections are closed and the stats printed.
 *
 * @module
 */
import { createStack, type Stack, type StackStats } from "../api/stack.ts";
import { sumStalls } from "../loop/loop.ts";
import { type App, type AppStats, createApp } from "../apps/mod.ts";
import { ConfigError, NoSuchPortError } from "../errors.ts";
import { formatIpv4 } from "../wire/mod.ts";
import { startWorkers } from "../workers/mod.ts";
import { type ServeOptions, UsageError, usageOfConfigError } from "./args.ts";

/** What `serve` prints at the end, as its JSON line holds it. */
export interface ServeReport {
  app: string;
  seconds: number;
  appStats: AppStats;
  stack: StackStats;
  /** Each worker's statistics, with --workers. */
  workers?: StackStats[];
}

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

/** Calls `fn` on SIGINT and SIGTERM (Deno's and Bun's ways). */
function onSignals(fn: (signal: string) => void): () => void {
  const signals = ["SIGINT", "SIGTERM"] as const;
  if (typeof g.Deno !== "undefined") {
    const hs = signals.map((s) => [s, () => fn(s)] as const);
    for (const [s, h] of hs) g.Deno.addSignalListener(s, h);
    return () => {
      for (const [s, h] of hs) g.Deno.removeSignalListener(s, h);
    };
  }
  const hs = signals.map((s) => [s, () => fn(s)] as const);
  for (const [s, h] of hs) process.on(s, h);
  return () => {
    for (const [s, h] of hs) process.off(s, h);
  };
}

/** Runs `luna serve`; resolves with the report once stopped. Config errors come as UsageError. */
export async function serve(
  o: ServeOptions,
  log: (line: string) => void = console.log,
): Promise<ServeReport> {
  if (o.workers > 1) return serveWorkers(o, log);
  let stack: Stack;
  try {
    stack = await createStack(o.config);
  } catch (e) {
    if (e instanceof ConfigError) throw usageOfConfigError(e);
    if (e instanceof NoSuchPortError) {
      const iface = /^af_(?:packet|xdp):(.*)$/.exec(String(o.config.device))?.[1];
      const hint = iface !== undefined
        ? ` (is there an interface '${iface}' in this network namespace?)`
        : "";
      throw new UsageError("--device", `${e.message}${hint}`);
    }
    throw e;
  }
  const app: App = createApp(o.app, stack.device.zone, o.limits);
  try {
    stack.listen(o.port, (c) => app.accept(c), { maxConnections: o.limits.maxConnections });
  } catch (e) {
    await stack.close(0);
    if (e instanceof ConfigError) throw usageOfConfigError(e);
    throw e;
  }
  const t0 = performance.now();
  // Connections parked on a low zone resume as ACKs free buffers; timeouts are checked.
  const retry = setInterval(() => {
    app.retry();
    app.tick(performance.now());
  }, 2);
  let stopping: string | undefined;
  const removeSignals = onSignals((signal) => {
    if (stopping !== undefined) {
      console.error(`luna: ${signal} again, exiting without a clean close`);
      process.exit(130);
    }
    stopping = signal;
    void stack.stop();
  });
  const address = formatIpv4(stack.ip.iface.address);
  if (o.faultSeed !== undefined) {
    log(`luna: injecting faults ${JSON.stringify(o.config.faults)} (seed ${o.faultSeed})`);
  }
  if (stack.controlSocket !== undefined) {
    const name = stack.controlSocket.replace(/^.*\//, "").replace(/\.sock$/, "");
    log(`luna: control socket ${stack.controlSocket} (luna stats ${name}, luna conns ${name}, ...)`);
  }
  log(`luna: serving ${o.app} on ${address}:${o.port} via ${o.config.device} (${stack.mode})`);
  try {
    await stack.run();
  } catch (e) {
    // A handler threw: release the device (and the EAL's files) before reporting it.
    clearInterval(retry);
    removeSignals();
    await stack.close(0).catch(() => {});
    throw e;
  } finally {
    clearInterval(retry);
    removeSignals();
  }
  const seconds = (performance.now() - t0) / 1000;
  log(`luna: ${stopping ?? "stopped"}: closing ${stack.connections().length} connection(s)`);
  await stack.close();
  // After the close: connections that were still finishing (a FIN on its way) have
  // finished, and the zone's count says whether every buffer came back.
  return { app: o.app, seconds, appStats: app.stats(), stack: stack.stats() };
}

function mb(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${n} B`;
}

/** The readable summary of a report. */
export function formatReport(r: ServeReport): string {
  const a = r.appStats;
  const s = r.stack;
  const t = s.tcp;
  const lines = [
    `luna: ${r.app} served for ${r.seconds.toFixed(1)} s`,
    `  connections  ${a.accepted} accepted, ${a.closed} closed cleanly, ${a.failed} failed` +
    (a.failed > 0
      ? ` (${a.failedReset} reset by the peer, ${a.failedTimeout} timed out, ${a.failedAborted} aborted)`
      : "") +
    `, ${a.open} open`,
    `  bytes        ${mb(a.bytesIn)} received, ${mb(a.bytesOut)} sent`,
  ];
  if (r.app === "http") {
    lines.push(
      `  http         ${a.requests} requests: ${a.responses2xx} 2xx, ${a.responses4xx} 4xx, ${a.responses5xx} 5xx; ` +
        `${mb(a.patternBytes)} of /bytes, ${mb(a.hashedBytes)} hashed`,
    );
  }
  if (a.parked > 0) {
    lines.push(`  zone waits   ${a.parked} (connections paused while the packet pool was low)`);
  }
  lines.push(
    `  tcp          ${t.passiveOpens} passive opens, ${t.inSegs} segments in, ${t.outSegs} out, ` +
      `${t.retransSegs} retransmitted (${t.retransTimeouts} timeouts), ${t.outRsts} resets sent`,
    `  ip           ${s.ip.link.rxFrames} frames in, ${s.ip.link.txFrames} out, ${s.ip.arp.requestsIn} ARP requests ` +
      `answered, ${s.ip.icmp.inEchos} pings`,
  );
  if (s.port !== undefined) {
    const p = s.port;
    lines.push(
      `  device       ${s.device}: ${p.ipackets} packets in, ${p.opackets} out, ${p.imissed} missed, ` +
        `${p.rxRingDropped} dropped on a full af_packet ring, ${p.rxNombuf} without a buffer`,
    );
  }
  lines.push(
    `  zone         ${s.zone.free} of ${s.zone.capacity} buffers free at the end; loop ran ${s.loop.iterations} times`,
  );
  return lines.join("\n");
}

/** Sums the counters of several workers' app stats. */
function sumApp(all: AppStats[]): AppStats {
  const out = {} as Record<string, number>;
  for (const a of all) for (const [k, v] of Object.entries(a)) out[k] = (out[k] ?? 0) + (v as number);
  return out as unknown as AppStats;
}

/** `luna serve --workers K`: K per-core workers, each serving the app on its own queue pair. */
async function serveWorkers(o: ServeOptions, log: (line: string) => void): Promise<ServeReport> {
  const appStats: AppStats[] = [];
  let group;
  try {
    group = await startWorkers({
      config: o.config,
      workers: o.workers,
      app: new URL("../apps/worker_app.ts", import.meta.url).href,
      args: { app: o.app, port: o.port, limits: o.limits },
      onReport: (i, data) => (appStats[i] = data as AppStats),
    });
  } catch (e) {
    if (e instanceof ConfigError) throw usageOfConfigError(e);
    throw e;
  }
  const t0 = performance.now();
  const address = o.config.address !== undefined ? String(o.config.address).split("/")[0] : "the kernel's address";
  const control = o.config.control;
  if (typeof control === "object" && control.name !== undefined) {
    const names = Array.from({ length: o.workers }, (_, i) => `${control.name}-w${i}`);
    log(`luna: control sockets ${names.join(", ")} (one per worker: luna stats ${names[0]}, ...)`);
  }
  log(`luna: serving ${o.app} on ${address}:${o.port} via ${o.config.device} (${o.config.mode ?? "batch"}, ${o.workers} workers)`);
  let stopping = "stopped";
  await new Promise<void>((resolve) => {
    const remove = onSignals((signal) => {
      stopping = signal;
      remove();
      resolve();
    });
  });
  const seconds = (performance.now() - t0) / 1000;
  log(`luna: ${stopping}: stopping ${o.workers} workers`);
  const stats = (await group.stop()).filter((s): s is StackStats => s !== undefined);
  const tcp: Record<string, number> = {};
  for (const st of stats) for (const [k, v] of Object.entries(st.tcp)) tcp[k] = (tcp[k] ?? 0) + v;
  const first = stats[0];
  return {
    app: o.app,
    seconds,
    appStats: sumApp(appStats.filter((a) => a !== undefined)),
    stack: {
      ...first,
      tcp,
      connections: stats.reduce((n, st) => n + st.connections, 0),
      timeWait: {
        count: stats.reduce((n, st) => n + st.timeWait.count, 0),
        bytes: stats.reduce((n, st) => n + st.timeWait.bytes, 0),
      },
      table: {
        lookups: stats.reduce((n, st) => n + st.table.lookups, 0),
        probes: stats.reduce((n, st) => n + st.table.probes, 0),
        longProbes: stats.reduce((n, st) => n + st.table.longProbes, 0),
      },
      loop: {
        iterations: stats.reduce((n, st) => n + st.loop.iterations, 0),
        framesIn: stats.reduce((n, st) => n + st.loop.framesIn, 0),
        rxBursts: stats.reduce((n, st) => n + st.loop.rxBursts, 0),
        txBursts: stats.reduce((n, st) => n + st.loop.txBursts, 0),
        stalls: sumStalls(stats.map((st) => st.loop.stalls)),
        idleSleeps: stats.reduce((n, st) => n + st.loop.idleSleeps, 0),
      },
    },
    workers: stats,
  };
}
