/**
 * The inside of a per-core worker (a Bun or Deno Worker): it registers its
 * thread with the EAL, maps the shared pool, takes its own queue pair of the
 * port, and runs a whole stack — connection table, timers, loop — on it,
 * sharing nothing on the data path. Control (stats, stop, reports) crosses
 * threads by message.
 *
 * @module
 */
import process from "node:process";
import { openShim } from "../../ffi/mod.ts";
import { Stack } from "../api/stack.ts";
import { parseStackConfig } from "../api/config.ts";
import { DpdkDevice } from "../device/dpdk/device.ts";
import { DpdkZone } from "../device/dpdk/pool.ts";
import { Port } from "../device/dpdk/port.ts";
import { tcpDefaults } from "../tcp/config.ts";
import { type Capture, startControl, tapForControl } from "../control/attach.ts";

/** What a worker's app module exports as default. */
export type WorkerApp = (stack: Stack, worker: WorkerContext) => void | Promise<void>;

/** What an app learns of its worker. */
export interface WorkerContext {
  /** This worker's index, 0 to count - 1. */
  index: number;
  /** Workers in the group. */
  count: number;
  /** What `startWorkers` was given as `args`. */
  args: unknown;
  /** Sends a message to the main thread (arrives as a `report` of the group). */
  report(data: unknown): void;
}

/** The message that starts a worker. */
export interface WorkerInit {
  type: "init";
  shimPath: string;
  pool: number;
  port: number;
  queue: number;
  index: number;
  count: number;
  rxOffloads: number;
  txOffloads: number;
  config: Record<string, unknown>;
  app: string;
  args: unknown;
}

// deno-lint-ignore no-explicit-any
const scope = self as any;
let stack: Stack | undefined;

scope.onmessage = async (e: MessageEvent) => {
  const m = e.data;
  try {
    if (m.type === "init") {
      const init = m as WorkerInit;
      const shim = await openShim({ path: init.shimPath });
      const lcore = shim.symbols.luna_thread_register();
      if (lcore < 0) throw new Error(`worker ${init.index}: thread registration failed: ${shim.lastError()}`);
      const zone = new DpdkZone(shim, `w${init.index}`, { attach: init.pool });
      const port = new Port(shim, init.port);
      port.adopt(zone);
      const device = new DpdkDevice(port, init.queue, init.txOffloads);
      // Each worker opens connections from its own slice of the ephemeral ports, so
      // no 4-tuple is used by two workers at once.
      const tcp = { ...(init.config.tcp as Record<string, number> | undefined) };
      const lo = tcp.ephemeralPortMin ?? tcpDefaults.ephemeralPortMin;
      const hi = tcp.ephemeralPortMax ?? tcpDefaults.ephemeralPortMax;
      const span = Math.floor((hi - lo + 1) / init.count);
      tcp.ephemeralPortMin = lo + init.index * span;
      tcp.ephemeralPortMax = lo + (init.index + 1) * span - 1;
      // A control socket per worker (config `control`): `<name>-w<index>`, each with its own capture tap.
      const ctl = init.config.control as { name?: string; dir?: string } | boolean | undefined;
      const control = ctl === undefined || ctl === false ? undefined : {
        ...(ctl === true ? {} : ctl),
        name: `${ctl === true || ctl.name === undefined ? `luna-${process.pid}` : ctl.name}-w${init.index}`,
      };
      const c = parseStackConfig({ ...init.config, tcp, device, control });
      const capture: Capture = {};
      const tapped = tapForControl(c, device, capture);
      stack = await startControl(new Stack(c, tapped), capture);
      const mod = await import(init.app);
      const app = mod.default as WorkerApp;
      await app(stack, {
        index: init.index,
        count: init.count,
        args: init.args,
        report: (data) => scope.postMessage({ type: "report", index: init.index, data }),
      });
      scope.postMessage({ type: "ready", index: init.index, lcore });
      await stack.run();
    } else if (m.type === "stats") {
      scope.postMessage({ type: "stats", index: m.index, stats: stack?.stats() });
    } else if (m.type === "stop") {
      const s = stack;
      if (s !== undefined) {
        await s.close(m.graceMs ?? 1000);
        scope.postMessage({ type: "stopped", stats: s.stats() });
      } else {
        scope.postMessage({ type: "stopped", stats: undefined });
      }
    }
  } catch (err) {
    scope.postMessage({ type: "error", message: err instanceof Error ? `${err.message}\n${err.stack}` : String(err) });
  }
};
