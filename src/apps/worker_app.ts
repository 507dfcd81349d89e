/**
 * An app of the `luna` command run inside a per-core worker: each worker
 * serves the same app on its own stack and reports its counters to the main
 * thread by message.
 *
 * @module
 */
import type { Stack } from "../api/stack.ts";
import type { WorkerContext } from "../workers/mod.ts";
import { type AppLimits, type AppName, createApp } from "./mod.ts";

/** Arguments the main thread passes. */
export interface WorkerAppArgs {
  app: AppName;
  port: number;
  /** Its timeouts and connection cap (per worker). */
  limits: AppLimits;
}

/** Serves `args.app` on `args.port`; reports the app's counters every 100 ms. */
export default function (stack: Stack, w: WorkerContext): void {
  const { app: name, port, limits } = w.args as WorkerAppArgs;
  const app = createApp(name, stack.device.zone, limits);
  stack.listen(port, (c) => app.accept(c), { maxConnections: limits.maxConnections });
  setInterval(() => {
    app.retry();
    app.tick(performance.now());
  }, 2);
  setInterval(() => w.report(app.stats()), 100);
}
