/**
 * Workload "concurrency": as many established idle connections as the
 * machine takes (the aim: 1,000,000 on one machine), the memory each costs
 * on the server side, and the 64-byte echo loop with them open.
 *
 * - luna-ts to luna-ts over net_memif (bench/luna_server.ts, bench/luna_client.ts):
 *   a stack has one address, so the 4-tuples differ by port: the server
 *   listens on {@link idlePortCount} ports from {@link idlePortBase} and the
 *   client opens the k-th connection from local port 1024 + floor(k / ports)
 *   to server port base + k % ports, a few hundred handshakes at a time.
 *   Memory per connection on the server: JavaScript heap after two full
 *   collections, and the process's RSS, after less before, over the
 *   connections the server holds. Every byte a luna-ts connection costs
 *   lives in the process (no kernel socket).
 * - kernel baseline: the Bun.listen server of bench/kernel_server.mjs (and
 *   Deno, node:net where asked) on loopback in the bench's namespace, the C
 *   client (bench/c/echo_client.c --mode idle) holding the connections from
 *   16 source addresses 127.0.0.10-25. Memory per connection: the server's
 *   RSS delta plus the kernel's (/proc/meminfo Slab, plus the TCP pages of
 *   /proc/net/sockstat) over the connections; on loopback the kernel holds
 *   both ends, so half the kernel's delta is counted for the server.
 *   /proc/meminfo is machine-wide: other work on the machine shows in it.
 *
 * For each configuration two figures: the echo loop over 1 and 16 active
 * connections before the idle ones are opened (`conns` 0), then the memory
 * and the same echo loop with them open (`conns`: the idle connections the
 * server holds). The luna-ts processes are left without closing their
 * connections one by one (a million FINs); the C client and kernel servers
 * exit and the kernel closes theirs.
 *
 * TIME-WAIT (`tw_*` metrics of the figure with idle connections): after the
 * idle figures, the server closes first on N of them (all by default;
 * --conc-tw-conns), the peer answers each FIN with its own, and the server
 * is left holding N TIME-WAIT connections.
 * - luna-ts: the luna-ts client polls while the server closes at most 1024
 *   at a time (bench/luna_server.ts `twclose`); once `stats().timeWait.count`
 *   has grown by N (bounded), two full collections; per TIME-WAIT
 *   connection: JS heap then less the heap before any idle connection was
 *   opened (at once: `tw_heap_bytes_per_conn_at_once`; 5 s later, settled:
 *   `tw_heap_bytes_per_conn`, also `tw_mem_bytes_per_conn`), RSS
 *   likewise, the records' own `timeWait.bytes / count`, and every table
 *   of the TCP layer with them (`tcp.footprint()`: ids, timer wheel,
 *   connections by id and by tuple, records; `tw_tables_bytes_per_conn`). The bench
 *   server's TIME-WAIT is raised to 600 s (tcp.timeWaitMs; 60 s by default)
 *   so that a million closes are measured before the first record expires;
 *   the time from the first close to the measurement is in the notes.
 * - kernel: once per round (the cost is the kernel's, whichever runtime
 *   serves), a Bun.listen server that keeps its sockets (kernel_server.mjs
 *   `track`, port 17, a process of its own so that the idle figures carry no
 *   list of sockets) holds N idle connections from the C client, ends them
 *   all (`twclose`), and the C client's exit answers each FIN; TIME-WAIT
 *   connections on the server's port counted with `ss`, /proc/net/sockstat's
 *   `tw` before and after, and per connection the slab's `tw_sock_TCP`
 *   objsize x tw count / tw count (`tw_kernel_bytes_per_conn`, also
 *   `tw_mem_bytes_per_conn`) and the slab's growth in objects x objsize.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { sh, sources } from "./_net.ts";
import { onCleanup, Proc, removeEalFiles, sleep } from "./_proc.ts";
import {
  ask,
  type Body,
  bunBin,
  cClient,
  clientBin,
  clientCpu,
  type Ctx,
  denoBin,
  echoPort,
  kernelServer,
  lunaClient,
  lunaServer,
  measure,
  memifEnd,
  type Mode,
  nodeBin,
  nsExec,
  requestBytes,
  type Runtime,
  type Sample,
  serverCpu,
  startLuna,
} from "./tcp.ts";

/** The first server port of the idle connections (luna-ts). */
export const idlePortBase = 20000;
/** Local ports a luna-ts client uses per server port: 1024..65535. */
const portSpan = 65536 - 1024;
/** Handshakes in flight at a time while opening. */
const inFlight = 256;

/** Server ports the luna-ts client needs for `n` connections from its one address: 16 at least. */
export function idlePortCount(n: number): number {
  return Math.max(16, Math.ceil(n / portSpan));
}

/** Seconds allowed to open `n` connections (at 5,000/s at worst, 20 s at least). */
const openTimeoutS = (n: number) => Math.max(20, Math.ceil(n / 5000));

/** /proc/meminfo, bytes. */
function meminfo(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync("/proc/meminfo", "utf8").split("\n")) {
    const m = line.match(/^(\w+):\s+(\d+)(?: kB)?/);
    if (m) out[m[1]] = Number(m[2]) * (line.endsWith("kB") ? 1024 : 1);
  }
  return out;
}

/** The TCP line of /proc/net/sockstat as a process sees it (its namespace); `mem` in pages. */
function sockstat(pid: number | undefined): Record<string, number> {
  try {
    const t = readFileSync(`/proc/${pid}/net/sockstat`, "utf8").match(/^TCP: (.*)$/m)?.[1] ?? "";
    const out: Record<string, number> = {};
    const xs = t.trim().split(/\s+/);
    for (let i = 0; i + 1 < xs.length; i += 2) out[xs[i]] = Number(xs[i + 1]);
    return out;
  } catch {
    return {};
  }
}

/** The hard limit on open descriptors this process (and so its children) has. */
function nofileHard(): number {
  try {
    const m = readFileSync("/proc/self/limits", "utf8").match(/^Max open files\s+(\S+)\s+(\S+)/m);
    return m?.[2] === "unlimited" ? 1 << 30 : Number(m?.[2] ?? 1024);
  } catch {
    return 1024;
  }
}

const us = (ns: unknown) => Number(ns) / 1000;

/** An echo result as `echo<active>_*` metrics; throws when it went wrong. */
function echoMetrics(active: number, r: Record<string, unknown>): Record<string, number> {
  if (Number(r.errors) > 0) {
    throw new Error(`echo ${active}: ${r.errors} answers with wrong bytes or lengths`);
  }
  if (!(Number(r.requests) > 0)) {
    throw new Error(`echo ${active}: no request answered in the measured stretch`);
  }
  return {
    [`echo${active}_req_per_s`]: Number(r.req_per_s),
    [`echo${active}_p50_us`]: us(r.p50_ns),
    [`echo${active}_p99_us`]: us(r.p99_ns),
    [`echo${active}_p999_us`]: us(r.p999_ns),
  };
}

/** The terminal's progress line of a concurrency sample. */
export function describeConcurrency(s: Sample): string {
  const m = s.metrics;
  const echo = Object.keys(m).filter((k) => /^echo\d+_p50_us$/.test(k)).map((k) => {
    const a = k.match(/^echo(\d+)_/)![1];
    return `${a} active: ${(m[`echo${a}_req_per_s`] / 1000).toFixed(1)}k req/s p50 ${
      m[k].toFixed(1)
    } µs p99 ${m[`echo${a}_p99_us`].toFixed(0)} µs`;
  }).join("; ");
  if (s.conns === 0) return `no idle connections; ${echo}`;
  const kib = (x: number | undefined) => (x === undefined ? "-" : `${(x / 1024).toFixed(2)} KiB`);
  return `${m.idle_conns} idle, server heap ${kib(m.heap_bytes_per_conn)}/conn, RSS ${
    kib(m.rss_bytes_per_conn)
  }` +
    `${m.kernel_bytes_per_conn !== undefined ? `, kernel ${kib(m.kernel_bytes_per_conn)}` : ""}` +
    `, total ${kib(m.mem_bytes_per_conn)}/conn; ${echo}` +
    (m.tw_conns === undefined
      ? ""
      : `; ${m.tw_conns} TIME-WAIT, ${
        m.tw_heap_bytes_per_conn !== undefined
          ? `heap ${m.tw_heap_bytes_per_conn.toFixed(0)} B/conn, RSS ${
            m.tw_rss_bytes_per_conn.toFixed(0)
          } B, ` +
            `records ${m.tw_record_bytes_per_conn.toFixed(0)} B, TCP tables ${
              m.tw_tables_bytes_per_conn.toFixed(0)
            } B`
          : `kernel ${m.tw_kernel_bytes_per_conn.toFixed(0)} B/conn (tw_sock_TCP)`
      }`);
}

interface Mem {
  heap: number;
  rss: number;
}

/**
 * Runs a TIME-WAIT phase: its metrics join `metrics`, its reason for doubt
 * `why`; a failure is noted, not thrown. Returns its notes.
 */
async function timeWaitPhase(
  phase: () => Promise<{ metrics: Record<string, number>; notes: Record<string, unknown>; why?: string }>,
  metrics: Record<string, number>,
  why: string[],
): Promise<Record<string, unknown>> {
  try {
    const tw = await phase();
    Object.assign(metrics, tw.metrics);
    if (tw.why !== undefined) why.push(tw.why);
    return tw.notes;
  } catch (e) {
    const error = String((e as Error)?.message ?? e).slice(0, 1000);
    why.push(`TIME-WAIT phase failed: ${error.split("\n")[0]}`);
    return { error };
  }
}

// ------------------------------------------------------------------ luna-ts

/** Luna-ts to luna-ts over memif: the idle connections and the echo loop beside them. */
export async function memifConcurrency(ctx: Ctx, mode: Mode): Promise<void> {
  const o = ctx.o;
  const config = `luna-memif-${mode}`;
  const n = o.concConns;
  const ports = { from: idlePortBase, count: idlePortCount(n) };
  const tag = `${process.pid}-c${mode}${ctx.round}`;
  const socket = `/tmp/luna-bench-${tag}.sock`;
  const sp = `luna-bench-${tag}-s`;
  const cp = `luna-bench-${tag}-c`;
  const echoS = o.warmupS + o.measureS;
  // Both quit by themselves after this long, whatever happens to the bench.
  const twWanted = Math.min(o.concTwConns ?? n, n);
  const lifetimeS = 180 + 2 * openTimeoutS(n) + 4 * o.concActive.length * (echoS + 30) +
    (twWanted > 0 ? twTimeoutS(twWanted) + 120 : 0);
  const removeFiles = () => {
    removeEalFiles(sp);
    removeEalFiles(cp);
    rmSync(socket, { force: true });
  };
  const clean = onCleanup(removeFiles);
  let server: Proc | undefined;
  let client: Proc | undefined;
  let startError: unknown;
  try {
    removeFiles();
    // No GC log here: a million connections make a long one, and nothing reads it.
    server = await startLuna(lunaServer, ["taskset", "-c", serverCpu], {
      ...memifEnd("server", socket, mode, sp, serverCpu, lifetimeS),
      idlePorts: ports,
      ...(twWanted > 0 ? { timeWaitMs: lunaTimeWaitMs } : {}),
    }, undefined);
    client = await startLuna(
      lunaClient,
      ["taskset", "-c", clientCpu],
      memifEnd("client", socket, mode, cp, clientCpu, lifetimeS),
      undefined,
    );
  } catch (e) {
    startError = e;
  }
  const s = server;
  const c = client;
  const run = async (phase: Record<string, unknown>, timeoutS: number) => {
    const m = await ask(c!, `run ${JSON.stringify(phase)}`, /^(RESULT|FAIL) (.*)$/m, timeoutS * 1000);
    const r = JSON.parse(m[2]);
    if (m[1] === "FAIL") throw new Error(`client: ${r.error}`);
    return r as Record<string, unknown>;
  };
  // The client's echo phase frames its measured stretch with full collections: slow over a big heap.
  const echo = (active: number) =>
    run(
      { workload: "echo", conns: active, size: requestBytes, warmupS: o.warmupS, measureS: o.measureS },
      echoS + 90,
    );
  const serverMem = async (tag: string) =>
    JSON.parse((await ask(s!, `mem ${tag}`, new RegExp(`^MEM ${tag} (.*)$`, "m"), 60_000))[1]);
  const started = () => {
    if (startError !== undefined) throw startError;
    if (s!.child.exitCode !== null) throw new Error(`server exited: ${s!.tail(1500)}`);
    if (c!.child.exitCode !== null) throw new Error(`client exited: ${c!.tail(1500)}`);
  };
  try {
    // Without idle connections: the same processes, before they open any (after an unrecorded
    // pass of the loop, so that both figures find the code compiled).
    await measure(ctx, "concurrency", config, 0, async (): Promise<Body> => {
      started();
      await echo(Math.max(...o.concActive));
      const metrics: Record<string, number> = {};
      for (const a of o.concActive) Object.assign(metrics, echoMetrics(a, await echo(a)));
      return { metrics, notes: { idle: 0 } };
    });
    let held = n;
    const ok = await measure(ctx, "concurrency", config, n, async (): Promise<Body> => {
      started();
      const mb = (await serverMem("before")) as Mem & Record<string, number>;
      const slab0 = meminfo();
      const idle = await run(
        { workload: "idle", conns: n, ports, inFlight, timeoutS: openTimeoutS(n) },
        openTimeoutS(n) + 120,
      );
      // The server holds a connection once the handshake's last ACK reached it.
      const opened = Number(idle.opened);
      const deadline = performance.now() + 20_000;
      let count = { idleAccepted: 0, idleClosed: 0 };
      while (performance.now() < deadline) {
        count = JSON.parse((await ask(s!, "count wait", /^COUNT wait (.*)$/m, 10_000))[1]);
        if (count.idleAccepted >= opened) break;
        await sleep(100);
      }
      const ma = (await serverMem("after")) as Mem & Record<string, number>;
      const slab1 = meminfo();
      held = ma.idleAccepted - ma.idleClosed;
      if (!(held > 0)) throw new Error(`no idle connection held (client: ${JSON.stringify(idle)})`);
      const metrics: Record<string, number> = {
        idle_conns: held,
        open_conn_per_s: Number(idle.conn_per_s),
        heap_bytes_per_conn: (ma.heap - mb.heap) / held,
        rss_bytes_per_conn: (ma.rss - mb.rss) / held,
        // Every byte of a luna-ts connection lives in the process: its RSS is the whole cost.
        mem_bytes_per_conn: (ma.rss - mb.rss) / held,
        client_heap_bytes_per_conn: Number(idle.heap_per_conn),
      };
      for (const a of o.concActive) Object.assign(metrics, echoMetrics(a, await echo(a)));
      const after = await run({ workload: "idlecount" }, 30);
      const afterServer = JSON.parse((await ask(s!, "count end", /^COUNT end (.*)$/m, 10_000))[1]);
      const why: string[] = [];
      if (held < n) {
        why.push(
          `asked for ${n}, the server holds ${held}: client opened ${opened}, failed ${idle.failed}, ` +
            `refused ${idle.refused}${idle.timedOut ? `, gave up after ${idle.seconds} s` : ""}` +
            `${idle.lastError ? ` (last error: ${idle.lastError})` : ""}` +
            `${idle.lastRefusal ? ` (last refusal: ${idle.lastRefusal})` : ""}`,
        );
      }
      const closedDuringEcho = afterServer.idleClosed - ma.idleClosed;
      if (closedDuringEcho > 0) why.push(`${closedDuringEcho} idle connections closed during the echo loop`);
      // TIME-WAIT: the server closes first on twWanted of them (see the header).
      const timeWait = twWanted > 0
        ? await timeWaitPhase(() => lunaTimeWait(s!, run, serverMem, mb, Math.min(twWanted, held)), metrics, why)
        : undefined;
      return {
        metrics,
        notes: {
          ...(timeWait !== undefined ? { timeWait } : {}),
          asked: n,
          held,
          ports: `${ports.from}-${ports.from + ports.count - 1}`,
          inFlight,
          client: { ...idle, before: undefined, after: undefined },
          clientMem: { before: idle.before, after: idle.after },
          serverMem: { before: mb, after: ma },
          idleOpenAfterEcho: {
            client: after.open,
            server: afterServer.idleAccepted - afterServer.idleClosed,
          },
          // Machine-wide, so other work shows in it; no kernel object is made per luna-ts connection.
          slabDeltaBytes: (slab1.Slab ?? 0) - (slab0.Slab ?? 0),
          ...(why.length > 0 ? { why: why.join("; ") } : {}),
        },
      };
    });
    void ok;
    void held;
  } finally {
    // A million FINs one by one would take longer than everything else: leave, and let the exit free it.
    await Promise.all([client, server].map((p) => leave(p, "abandon", 10_000)));
    removeFiles();
    clean();
  }
}

/** TIME-WAIT of the luna-ts concurrency server, ms: the most the stack takes, so that the measurement is inside it. */
const lunaTimeWaitMs = 600_000;
/** Seconds allowed for the server to close `n` connections first and the client to answer (2,000/s at worst). */
const twTimeoutS = (n: number) => Math.max(30, Math.ceil(n / 2000));

/**
 * The TIME-WAIT phase of luna-ts: the server closes first on `n` idle
 * connections, the client answers each FIN (its idle handlers), and the
 * server's memory per TIME-WAIT connection is taken against `before` (its
 * memory before any idle connection was opened).
 */
async function lunaTimeWait(
  server: Proc,
  run: (phase: Record<string, unknown>, timeoutS: number) => Promise<Record<string, unknown>>,
  // deno-lint-ignore no-explicit-any
  serverMem: (tag: string) => Promise<any>,
  before: Mem,
  n: number,
): Promise<{ metrics: Record<string, number>; notes: Record<string, unknown>; why?: string }> {
  const timeoutS = twTimeoutS(n);
  const t0 = performance.now();
  const count = async (tag: string) =>
    JSON.parse((await ask(server, `count ${tag}`, new RegExp(`^COUNT ${tag} (.*)$`, "m"), 10_000))[1]) as {
      timeWait: number;
    };
  const tw0 = (await count("tw0")).timeWait;
  // The client polls without pause while the server closes (its loop between phases naps 1 ms a poll).
  const answering = run({ workload: "idleanswer", conns: n, timeoutS }, timeoutS + 30);
  const closing = ask(server, `twclose ${n} 1024 ${timeoutS}`, /^TWCLOSE (.*)$/m, (timeoutS + 30) * 1000);
  const [answered, closedM] = await Promise.all([answering, closing]);
  const closed = JSON.parse(closedM[1]) as Record<string, number>;
  // Bounded: the last of the records may still be on their way.
  let held = (await count("tw1")).timeWait - tw0;
  for (const deadline = performance.now() + 10_000; held < n && performance.now() < deadline;) {
    await sleep(100);
    held = (await count("tw1")).timeWait - tw0;
  }
  // At once, and again after 5 s: right after the closes the heap may still hold some of what
  // the connections left (the figure is the settled one; both are reported).
  type TwMem = Mem & { timeWait: { count: number; bytes: number }; tables: { total: number } };
  const m0 = (await serverMem("tw")) as TwMem;
  await sleep(5000);
  const m = (await serverMem("tw2")) as TwMem;
  const elapsedS = (performance.now() - t0) / 1000;
  const records = m.timeWait.count;
  if (!(records > 0)) throw new Error(`no TIME-WAIT record held (server: ${JSON.stringify(closed)})`);
  const why: string[] = [];
  if (records < n) {
    // A record that a reset ended (the peer's answer to a FIN retransmitted under load) is not replaced.
    const early = Number(closed.finished) - Number(closed.timeWaitNew);
    why.push(
      `TIME-WAIT: asked for ${n}, the server holds ${records} records` +
        (early > 0
          ? ` (${early} of the ${closed.finished} closed ended before the measurement; ` +
            `${closed.retransTimeouts} retransmission timeouts in the phase)`
          : ""),
    );
  }
  if (elapsedS >= lunaTimeWaitMs / 1000) {
    why.push(`TIME-WAIT: measured ${elapsedS.toFixed(0)} s after the first close`);
  }
  return {
    metrics: {
      tw_conns: records,
      tw_heap_bytes_per_conn: (m.heap - before.heap) / records,
      tw_heap_bytes_per_conn_at_once: (m0.heap - before.heap) / m0.timeWait.count,
      tw_rss_bytes_per_conn: (m.rss - before.rss) / records,
      tw_record_bytes_per_conn: m.timeWait.bytes / records,
      // The records and the TCP layer's other tables (ids, timer wheel, connections by id and by tuple).
      tw_tables_bytes_per_conn: m.tables.total / records,
      // Every byte a luna-ts TIME-WAIT connection costs lives on the heap.
      tw_mem_bytes_per_conn: (m.heap - before.heap) / records,
    },
    notes: {
      asked: n,
      records,
      recordBytes: m.timeWait.bytes,
      server: closed,
      client: answered,
      elapsedS,
      timeWaitMs: lunaTimeWaitMs,
      serverMem: m,
      serverMemAtOnce: m0,
    },
    ...(why.length > 0 ? { why: why.join("; ") } : {}),
  };
}

/** Sends `line` (if the process still runs), waits up to `graceMs` for it to exit, then kills it. */
async function leave(p: Proc | undefined, line: string, graceMs: number): Promise<void> {
  if (p === undefined) return;
  if (p.child.exitCode === null && p.child.signalCode === null) {
    p.child.stdin?.on("error", () => {}); // it may exit while we write
    try {
      p.send(line);
      p.child.stdin?.end();
    } catch {
      // stdin gone
    }
    const t = setTimeout(() => p.child.kill("SIGKILL"), graceMs);
    await p.closed;
    clearTimeout(t);
  }
}

// ------------------------------------------------------------------ kernel

/** A kernel server on loopback holding idle connections from the C client, and the echo loop beside them. */
export async function kernelConcurrency(ctx: Ctx, rt: Runtime): Promise<void> {
  const o = ctx.o;
  const path = ctx.lab.lo;
  const config = `${rt}-kernel-lo`;
  // One server process holds a descriptor per connection: as many as the hard limit on them
  // allows (without CAP_SYS_RESOURCE it cannot be raised; the C client is bound by it too).
  const hard = nofileHard();
  const n = Math.min(o.concKernelConns, hard - 1000);
  const capped = n < o.concKernelConns
    ? `asked for ${o.concKernelConns}; a process may hold at most ${hard} descriptors here (RLIMIT_NOFILE hard limit, ` +
      `not raisable without CAP_SYS_RESOURCE), so one server process holds at most ${n}`
    : undefined;
  const nofile = Math.min(hard, n + 4096);
  // A collection on demand (the `mem` command) needs a flag under Deno and node.
  const argv = rt === "bun"
    ? [bunBin, kernelServer]
    : rt === "deno"
    ? [denoBin, "run", "-A", "--v8-flags=--expose-gc", kernelServer]
    : [nodeBin, "--expose-gc", kernelServer];
  const cmd = nsExec(path.serverNs, serverCpu, [
    "prlimit",
    `--nofile=${nofile}:${nofile}`,
    ...argv,
    rt,
    path.serverAddr,
    String(echoPort),
  ]);
  const echoArgs = (active: number) => [
    "--mode",
    "echo",
    "--addr",
    path.serverAddr,
    "--port",
    String(echoPort),
    "--size",
    String(requestBytes),
    "--conns",
    String(active),
    "--warmup",
    String(o.warmupS),
    "--duration",
    String(o.measureS),
  ];
  const echo = (active: number) => cClient(path.clientNs, echoArgs(active), o.warmupS + o.measureS + 20);
  let server: Proc | undefined;
  let holder: Proc | undefined;
  let startError: unknown;
  try {
    server = new Proc("ip", cmd, { stdin: true });
    await server.waitFor(/READY/, 0, 20_000, "stdout");
  } catch (e) {
    startError = e;
  }
  const s = server!;
  const serverMem = async () => JSON.parse((await ask(s, "mem", /^MEM (.*)$/m, 60_000))[1]);
  const started = () => {
    if (startError !== undefined) throw startError;
    if (s.child.exitCode !== null) throw new Error(`server exited: ${s.tail(1500)}`);
  };
  try {
    await measure(ctx, "concurrency", config, 0, async (): Promise<Body> => {
      started();
      await echo(Math.max(...o.concActive)); // unrecorded, as for luna-ts
      const metrics: Record<string, number> = {};
      for (const a of o.concActive) Object.assign(metrics, echoMetrics(a, await echo(a)));
      return { metrics, notes: { idle: 0 } };
    });
    await measure(ctx, "concurrency", config, n, async (): Promise<Body> => {
      started();
      // The echo loop's connections first finish closing, so that the count afterwards is the idle ones'.
      let mb = await serverMem();
      for (const t = performance.now(); mb.accepted > mb.closed && performance.now() - t < 5000;) {
        await sleep(100);
        mb = await serverMem();
      }
      const k0 = meminfo();
      const ss0 = sockstat(s.child.pid);
      const timeoutS = openTimeoutS(n);
      const h = new Proc(
        "ip",
        nsExec(path.clientNs, clientCpu, [
          clientBin,
          "--mode",
          "idle",
          "--addr",
          path.serverAddr,
          "--port",
          String(echoPort),
          "--conns",
          String(n),
          "--src",
          sources("127.0.0").join(","),
          "--inflight",
          String(inFlight),
          "--timeout",
          String(timeoutS),
          "--hold",
          String(timeoutS + 300),
        ]),
        { stdin: true },
      );
      holder = h;
      const idle = JSON.parse((await h.waitFor(/^IDLE (.*)$/m, 0, (timeoutS + 30) * 1000, "stdout"))[1]);
      const established = Number(idle.established);
      // The server holds a connection once it accepted it; the kernel may have completed more handshakes.
      const heldNow = (m: { accepted: number; closed: number }) =>
        m.accepted - m.closed - (mb.accepted - mb.closed);
      // Up to 30 s, while the count still grows (one the kernel dropped from a full accept queue
      // may come back with a retransmitted SYN-ACK, or never).
      let ma = await serverMem();
      const deadline = performance.now() + 30_000;
      for (let last = heldNow(ma), since = performance.now(); heldNow(ma) < established;) {
        const now = performance.now();
        if (now > deadline || now - since > 3000) break;
        await sleep(200);
        ma = await serverMem();
        if (heldNow(ma) > last) {
          last = heldNow(ma);
          since = performance.now();
        }
      }
      const k1 = meminfo();
      const ss1 = sockstat(s.child.pid);
      const held = heldNow(ma);
      if (!(held > 0)) throw new Error(`no idle connection held (client: ${JSON.stringify(idle)})`);
      const pages = (ss1.mem ?? 0) - (ss0.mem ?? 0);
      const kernelBytes = (k1.Slab ?? 0) - (k0.Slab ?? 0) + pages * 4096;
      // Loopback: the kernel holds both ends; half of it is the server's.
      const kernelPerConn = kernelBytes / 2 / held;
      const rssPerConn = (ma.rss - mb.rss) / held;
      const metrics: Record<string, number> = {
        idle_conns: held,
        open_conn_per_s: Number(idle.conn_per_s),
        heap_bytes_per_conn: (ma.heap - mb.heap) / held,
        rss_bytes_per_conn: rssPerConn,
        kernel_bytes_per_conn: kernelPerConn,
        mem_bytes_per_conn: rssPerConn + kernelPerConn,
      };
      for (const a of o.concActive) Object.assign(metrics, echoMetrics(a, await echo(a)));
      // Let the holder count what is still open, then exit (the kernel closes the rest).
      const from = h.stdout.length;
      h.send("quit");
      const res = JSON.parse((await h.waitFor(/^RESULT (.*)$/m, from, 30_000, "stdout"))[1]);
      const why: string[] = capped === undefined ? [] : [capped];
      if (held < n) {
        why.push(
          `asked for ${n}, the server holds ${held}: client established ${established}, failed ${idle.failed}` +
            `${idle.timedOut ? `, gave up after ${idle.seconds} s` : ""}` +
            `${idle.lastError ? ` (last error: ${idle.lastError})` : ""}`,
        );
      }
      if (res.closed > 0) why.push(`${res.closed} idle connections closed while held`);
      // TIME-WAIT, once per round (the kernel's cost, whichever runtime serves): the first runtime's figure.
      const twN = Math.min(o.concTwConns ?? n, n);
      const timeWait = twN > 0 && rt === o.concRuntimes[0]
        ? await timeWaitPhase(() => kernelTimeWait(ctx, twN), metrics, why)
        : undefined;
      return {
        metrics,
        notes: {
          asked: o.concKernelConns,
          held,
          nofileHard: hard,
          client: idle,
          idleOpenAfterEcho: res.open,
          ...(timeWait !== undefined ? { timeWait } : {}),
          serverMem: { before: mb, after: ma, gc: ma.gc },
          kernel: {
            slabBytes: (k1.Slab ?? 0) - (k0.Slab ?? 0),
            sUnreclaimBytes: (k1.SUnreclaim ?? 0) - (k0.SUnreclaim ?? 0),
            sockstatMemPages: pages,
            sockstatBefore: ss0,
            sockstatAfter: ss1,
            note: "machine-wide /proc/meminfo (other work shows in it); loopback: both ends, half counted",
          },
          ...(why.length > 0 ? { why: why.join("; ") } : {}),
        },
      };
    });
  } finally {
    await leave(holder, "quit", 10_000);
    await leave(server, "quit", 10_000);
  }
}

/** The tw_sock_TCP line of /proc/slabinfo: objects in use and the size of one, bytes. */
function twSlab(): { activeObjs: number; objSize: number } | undefined {
  try {
    const m = readFileSync("/proc/slabinfo", "utf8").match(/^tw_sock_TCP\s+(\d+)\s+\d+\s+(\d+)/m);
    return m ? { activeObjs: Number(m[1]), objSize: Number(m[2]) } : undefined;
  } catch {
    return undefined;
  }
}

/** TIME-WAIT sockets on local port `port` in namespace `ns` (ss). */
function twOnPort(ns: string, port: number): number {
  const r = spawnSync("ip", [
    "netns",
    "exec",
    ns,
    "ss",
    "-Htn",
    "state",
    "time-wait",
    "sport",
    "=",
    `:${port}`,
  ], {
    encoding: "utf8",
    maxBuffer: 1 << 30,
  });
  if (r.status !== 0) throw new Error(`ss: ${r.stderr}`);
  return r.stdout.split("\n").filter((l) => l.trim().length > 0).length;
}

/**
 * The kernel's TIME-WAIT cost: in a namespace of its own (so that
 * /proc/net/sockstat's `tw` counts only these), a Bun.listen server that
 * keeps its sockets holds `n` idle connections from the C client, ends them
 * all first, and the client's exit answers each FIN. Per TIME-WAIT
 * connection: the slab's tw_sock_TCP objsize (x tw count / tw count), and
 * the slab's growth in objects x objsize (machine-wide: other work shows).
 */
async function kernelTimeWait(
  ctx: Ctx,
  n: number,
): Promise<{ metrics: Record<string, number>; notes: Record<string, unknown>; why?: string }> {
  const ns = `${ctx.lab.id}t`;
  const port = 17;
  const addNs = () => {
    sh("ip", ["netns", "add", ns]);
    sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
    for (
      const kv of [
        "net.ipv4.ip_local_port_range=1024 65535",
        "net.core.somaxconn=4096",
        "net.ipv4.tcp_max_syn_backlog=4096",
      ]
    ) sh("ip", ["netns", "exec", ns, "sysctl", "-q", "-w", kv]);
  };
  const delNs = () => spawnSync("ip", ["netns", "del", ns]);
  const removeNs = onCleanup(delNs);
  let server: Proc | undefined;
  let holder: Proc | undefined;
  try {
    delNs(); // left by a run that died
    addNs();
    const nofile = Math.min(nofileHard(), n + 4096);
    server = new Proc(
      "ip",
      nsExec(ns, serverCpu, [
        "prlimit",
        `--nofile=${nofile}:${nofile}`,
        bunBin,
        kernelServer,
        "bun",
        "127.0.0.1",
        String(port),
        "track",
      ]),
      { stdin: true },
    );
    await server.waitFor(/READY/, 0, 20_000, "stdout");
    const timeoutS = openTimeoutS(n);
    holder = new Proc(
      "ip",
      nsExec(ns, clientCpu, [
        "prlimit",
        `--nofile=${nofile}:${nofile}`,
        clientBin,
        ...["--mode", "idle", "--addr", "127.0.0.1", "--port", String(port), "--conns", String(n)],
        ...["--src", sources("127.0.0").join(","), "--inflight", String(inFlight)],
        ...["--timeout", String(timeoutS), "--hold", String(timeoutS + 300)],
      ]),
      { stdin: true },
    );
    const idle = JSON.parse((await holder.waitFor(/^IDLE (.*)$/m, 0, (timeoutS + 30) * 1000, "stdout"))[1]);
    const serverAccepted = async () => {
      const m = JSON.parse((await ask(server!, "mem", /^MEM (.*)$/m, 60_000))[1]);
      return Number(m.accepted) - Number(m.closed);
    };
    for (const t = performance.now(); (await serverAccepted()) < Number(idle.established);) {
      if (performance.now() - t > 10_000) break;
      await sleep(100);
    }
    const ss0 = sockstat(server.child.pid);
    const slab0 = twSlab();
    const t0 = performance.now();
    const closed = JSON.parse((await ask(server, "twclose", /^TWCLOSE (.*)$/m, 60_000))[1]);
    // The server's FINs reach the client's sockets (CLOSE-WAIT); its exit closes them: FIN back.
    await sleep(200);
    const from = holder.stdout.length;
    holder.send("quit");
    const res = JSON.parse((await holder.waitFor(/^RESULT (.*)$/m, from, 30_000, "stdout"))[1]);
    await holder.closed;
    let count = twOnPort(ns, port);
    for (
      const deadline = performance.now() + 20_000;
      count < closed.closed && performance.now() < deadline;
    ) {
      await sleep(200);
      count = twOnPort(ns, port);
    }
    const ss1 = sockstat(server.child.pid);
    const slab1 = twSlab();
    const elapsedS = (performance.now() - t0) / 1000;
    if (!(count > 0)) {
      throw new Error(`no TIME-WAIT socket on port ${port} (server: ${JSON.stringify(closed)})`);
    }
    const tw = (ss1.tw ?? 0) - (ss0.tw ?? 0);
    const objSize = slab1?.objSize ?? NaN;
    const why: string[] = [];
    if (count < n) why.push(`kernel TIME-WAIT: asked for ${n}, ${count} on the server's port`);
    if (elapsedS >= 60) why.push(`kernel TIME-WAIT: measured ${elapsedS.toFixed(0)} s after the first close`);
    return {
      metrics: {
        tw_conns: count,
        tw_sockstat: tw,
        tw_kernel_bytes_per_conn: tw > 0 ? (objSize * tw) / tw : objSize,
        tw_slab_bytes_per_conn: slab0 && slab1
          ? ((slab1.activeObjs - slab0.activeObjs) * objSize) / count
          : NaN,
        tw_mem_bytes_per_conn: tw > 0 ? (objSize * tw) / tw : objSize,
      },
      notes: {
        asked: n,
        namespace: "its own (sockstat's tw counts only these)",
        client: idle,
        clientEnd: res,
        server: closed,
        onPort: count,
        sockstatBefore: ss0,
        sockstatAfter: ss1,
        slabBefore: slab0,
        slabAfter: slab1,
        elapsedS,
      },
      ...(why.length > 0 ? { why: why.join("; ") } : {}),
    };
  } finally {
    await leave(holder, "quit", 10_000);
    await leave(server, "quit", 10_000);
    removeNs();
  }
}
