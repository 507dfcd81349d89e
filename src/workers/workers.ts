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
import { parseStackConfig, receiveOffloadEnabled, type StackConfigInput } from "../api/config.ts";
import type { StackStats } from "../api/stack.ts";
import type { Dpdk } from "../device/dpdk/eal.ts";
import { openDpdkPort } from "../device/dpdk/open.ts";
import { parseDeviceSpec } from "../device/spec.ts";
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
  /** The Worker threads, one per queue pair. */
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

/**
 * Opens the port with one queue pair per worker (as `createStack` opens its
 * port, through openDpdkPort), then starts the workers, each on its queue.
 */
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
  // Each worker's stack gets `buffers` of the one pool.
  const { dpdk, port, zone, rxOffloads, txOffloads } = await openDpdkPort({
    spec,
    mtu: c.mtu,
    buffers: c.buffers * count,
    queues: count,
    queuesField: "workers",
    promiscuous: c.mac !== undefined,
    checksums: c.checksums,
    segmentation: c.tcp?.segmentationOffload ?? true,
    receiveOffload: receiveOffloadEnabled(c),
    eal: { ...c.eal, memoryMb: c.eal?.memoryMb ?? 256 + 64 * count },
  });
  const started: Worker[] = [];
  try {
    // Buffers the main thread's cache holds go back to the pool, for the workers to take.
    zone.flush();
    const { device: _device, eal: _eal, ...rest } = options.config as unknown as Record<string, unknown>;
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
