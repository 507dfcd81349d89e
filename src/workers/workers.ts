/**
 * Shared-nothing per-core workers: one Worker (Bun or Deno) per core, each
 * with its own queue pair of the port, its own connection table and timers.
 * The main thread starts DPDK's EAL, builds one packet pool and configures
 * the port with a queue pair per worker, then hands each worker its queue.
 *
 * Flows reach their worker by the device: RSS on a NIC, queue pairing on
 * memif (what a worker sends on queue k, the peer receives on its queue k,
 * and answers there). Devices with one queue take one worker.
 *
 * @example
 * ```ts
 * import { startWorkers } from "luna-ts/workers";
 * const group = await startWorkers({
 *   config: { device: "memif:/run/luna.sock,server", address: "198.18.0.2/24" },
 *   workers: 2,
 *   app: new URL("./echo_app.ts", import.meta.url).href,
 * });
 * ```
 *
 * @module
 */
import { Offload, Rss } from "../../ffi/symbols.ts";
import { parseStackConfig, type StackConfigInput } from "../api/config.ts";
import type { StackStats } from "../api/stack.ts";
import { Dpdk } from "../device/dpdk/eal.ts";
import { parseDeviceSpec } from "../device/spec.ts";
import { dataRoomForMtu } from "../device/dpdk/pool.ts";
import { ConfigError } from "../errors.ts";
import type { WorkerInit } from "./worker_main.ts";

/** Options of {@link startWorkers}. */
export interface WorkersOptions {
  /** The stack configuration; `device` must be a spec string (a DPDK device). */
  config: StackConfigInput;
  /** Number of workers (queue pairs). */
  workers: number;
  /** URL of the app module each worker imports; its default export gets the worker's stack. */
  app: string;
  /** Passed to the app. */
  args?: unknown;
  /** Called with what apps report. */
  onReport?: (index: number, data: unknown) => void;
}

/** Running workers. */
export class WorkerGroup {
  readonly workers: Worker[];
  readonly #dpdk: Dpdk;
  #stopped = false;

  /** @internal */
  constructor(workers: Worker[], dpdk: Dpdk) {
    this.workers = workers;
    this.#dpdk = dpdk;
  }

  /** Each worker's stack statistics. */
  stats(): Promise<StackStats[]> {
    return Promise.all(this.workers.map((w, index) => ask(w, { type: "stats", index }, "stats").then((m) => m.stats)));
  }

  /** Closes every worker's connections, stops the workers and the EAL; returns their last statistics. */
  async stop(graceMs = 1000): Promise<StackStats[]> {
    if (this.#stopped) return [];
    this.#stopped = true;
    const stats = await Promise.all(
      this.workers.map((w) => ask(w, { type: "stop", graceMs }, "stopped", graceMs + 10_000).then((m) => m.stats)),
    );
    for (const w of this.workers) w.terminate();
    this.#dpdk.close();
    return stats;
  }
}

function ask(w: Worker, msg: unknown, answer: string, timeoutMs = 10_000): Promise<any> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      w.removeEventListener("message", on);
      reject(new Error(`worker did not answer ${JSON.stringify(msg)}`));
    }, timeoutMs);
    const on = (e: MessageEvent) => {
      if (e.data?.type === answer || e.data?.type === "error") {
        clearTimeout(timer);
        w.removeEventListener("message", on);
        if (e.data.type === "error") reject(new Error(e.data.message));
        else resolve(e.data);
      }
    };
    w.addEventListener("message", on);
    w.postMessage(msg);
  });
}

/** Starts the EAL, the port with one queue pair per worker, and the workers. */
export async function startWorkers(options: WorkersOptions): Promise<WorkerGroup> {
  const { workers: count } = options;
  if (!Number.isInteger(count) || count < 1 || count > 64) {
    throw new ConfigError("workers", `expected an integer 1..64, got ${count}`);
  }
  const c = parseStackConfig(options.config);
  if (typeof c.device !== "string") {
    throw new ConfigError("device", "workers need a DPDK device spec: each takes a queue pair of the port");
  }
  const spec = parseDeviceSpec(c.device, "device", { mtu: c.mtu });
  for (const [k, v] of Object.entries(spec.env)) process.env[k] ??= v;
  const vdevs = spec.kind === "memif"
    ? spec.vdevs.map((v) => v) // memif takes its queue counts from the port configuration
    : spec.vdevs.map((v) => v.replace(/qpairs=1/, `qpairs=${count}`));
  const dpdk = await Dpdk.start({
    prefix: c.eal?.prefix ?? `luna-${process.pid}`,
    vdevs,
    pci: spec.pci,
    hugepages: c.eal?.hugepages,
    memoryMb: c.eal?.memoryMb ?? 256 + 64 * count,
    lcores: c.eal?.lcores,
    logLevel: c.eal?.logLevel,
    extra: [...spec.eal, ...(c.eal?.extra ?? [])],
  });
  const started: Worker[] = [];
  try {
    const port = dpdk.port(spec.portName);
    const info = port.describe();
    // Every frame of the MTU fits one buffer (as createStack does).
    const zone = dpdk.createZone("luna", { count: c.buffers * count, dataRoom: dataRoomForMtu(c.mtu ?? info.mtu) });
    if (info.maxRxQueues < count || info.maxTxQueues < count) {
      throw new ConfigError("workers", `${spec.portName} has ${info.maxRxQueues} queues, ${count} workers asked`);
    }
    const cksum = Offload.ipv4Cksum | Offload.tcpCksum;
    const txOffloads = (info.txOffloads & cksum) === cksum ? cksum : 0;
    const rxOffloads = (info.rxOffloads & cksum) === cksum ? cksum : 0;
    const rss = count > 1 && (info.rssHashes & Rss.ipv4Tcp) !== 0 ? Rss.ipv4Tcp : 0;
    port.configure({
      zone,
      rxQueues: count,
      txQueues: count,
      rxOffloads,
      txOffloads,
      rss,
      mtu: c.mtu,
      mtuPmdUnbounded: spec.mtuPmdUnbounded,
    });
    port.start();
    zone.flush();
    const { device: _device, eal: _eal, ...rest } = options.config as Record<string, unknown>;
    const url = new URL("./worker_main.ts", import.meta.url).href;
    const ready: Promise<unknown>[] = [];
    for (let i = 0; i < count; i++) {
      const w = new Worker(url, { type: "module" });
      started.push(w);
      w.addEventListener("message", (e: MessageEvent) => {
        if (e.data?.type === "report") options.onReport?.(e.data.index, e.data.data);
      });
      const init: WorkerInit = {
        type: "init",
        shimPath: dpdk.shim.path,
        pool: zone.pool,
        port: port.id,
        queue: i,
        index: i,
        count,
        rxOffloads,
        txOffloads,
        config: rest,
        app: options.app,
        args: options.args,
      };
      ready.push(ask(w, init, "ready", 30_000));
    }
    await Promise.all(ready);
    return new WorkerGroup(started, dpdk);
  } catch (e) {
    for (const w of started) w.terminate();
    try {
      dpdk.close();
    } catch {
      // the first error says more
    }
    throw e;
  }
}
