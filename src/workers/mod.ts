/**
 * Per-core workers, above the API: one Worker (Bun or Deno) per core, each
 * running a whole {@link Stack} on its own queue pair of one DPDK port. The
 * API knows nothing of them; they build their stacks through it.
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
export { startWorkers, WorkerGroup, type WorkersOptions } from "./workers.ts";
// Types only: worker_main.ts is a Worker's entry module, never loaded on the main thread.
export type { WorkerApp, WorkerContext } from "./worker_main.ts";
