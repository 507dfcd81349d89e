/**
 * The discard server (RFC 863 over TCP): reads and counts every byte, sends
 * nothing, and closes when the peer has finished. Bytes are consumed as views
 * of the packet buffers they arrived in: nothing is copied.
 *
 * @example
 * ```ts
 * import { createStack } from "../mod.ts";
 * import { discardApp } from "./discard.ts";
 * const stack = await createStack({ device: "af_packet:luna0", address: "198.18.0.2/24" });
 * const app = discardApp();
 * stack.listen(9, (c) => app.accept(c));
 * await stack.run();
 * ```
 *
 * @module
 */
import type { Connection, ConnectionHandlers } from "../api/connection.ts";
import { type App, appStats, countClose } from "./app.ts";
import { type AppLimits, appLimitDefaults, ConnectionGuard } from "./guard.ts";

/** A discard server; see the module documentation. */
export function discardApp(limits: Readonly<AppLimits> = appLimitDefaults): App {
  const stats = appStats();
  const guard = new ConnectionGuard<Connection>(limits, stats);
  const handlers: ConnectionHandlers = {
    onData(c) {
      guard.active(c);
      for (let v = c.peek(); v.length > 0; v = c.peek()) {
        stats.bytesIn += v.length;
        c.consume(v.length);
      }
    },
    onEnd(c) {
      c.close();
    },
    onClose(c, error) {
      guard.forget(c);
      countClose(stats, error);
    },
  };
  return {
    name: "discard",
    accept(c) {
      stats.accepted++;
      stats.open++;
      guard.accept(c);
      return handlers;
    },
    retry() {},
    tick: (now) => guard.tick(now),
    limits,
    stats: () => ({ ...stats }),
  };
}
