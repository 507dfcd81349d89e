/**
 * The echo server (RFC 862 over TCP): every byte received is sent back.
 * Received bytes are read as views of the packet buffers they arrived in and
 * consumed only once the send buffer took them, so a peer that does not read
 * its echo fills our send buffer, then our receive window, and is slowed
 * down instead of being buffered without bound.
 *
 * @example
 * ```ts
 * import { createStack } from "../mod.ts";
 * import { echoApp } from "./echo.ts";
 * const stack = await createStack({ device: "af_packet:luna0", address: "198.18.0.2/24" });
 * const app = echoApp(stack.device.zone);
 * stack.listen(7, (c) => app.accept(c));
 * await stack.run();
 * ```
 *
 * @module
 */
import type { Connection, ConnectionHandlers } from "../api/connection.ts";
import type { MemZone } from "../mem/zone.ts";
import { type App, appStats, waitWritable, ZoneBudget } from "./app.ts";

interface EchoState {
  ended: boolean;
}

/** An echo server; see the module documentation. */
export function echoApp(zone: MemZone): App {
  const stats = appStats();
  const budget = new ZoneBudget(zone, stats, (c) => pump(c));

  function pump(c: Connection): void {
    const s = c.data as EchoState;
    // Each write copies at most one received segment into one or two buffers.
    let left = budget.available();
    for (;;) {
      const v = c.peek();
      if (v.length === 0) break;
      if (left <= 0) {
        budget.park(c);
        return;
      }
      const n = c.write(v);
      left -= 2;
      if (n > 0) {
        c.consume(n);
        stats.bytesOut += n;
      }
      if (n < v.length) {
        waitWritable(c);
        return;
      }
    }
    if (s.ended && c.readable === 0 && c.writable) c.close();
  }

  const handlers: ConnectionHandlers = {
    onData(c) {
      const before = c.readable;
      pump(c);
      stats.bytesIn += before - c.readable;
    },
    onWritable(c) {
      const before = c.readable;
      pump(c);
      stats.bytesIn += before - c.readable;
    },
    onEnd(c) {
      (c.data as EchoState).ended = true;
      pump(c);
    },
    onClose(c, error) {
      budget.forget(c);
      stats.open--;
      if (error === undefined) stats.closed++;
      else stats.failed++;
    },
  };

  return {
    name: "echo",
    accept(c) {
      stats.accepted++;
      stats.open++;
      c.data = { ended: false } satisfies EchoState;
      c.setNoDelay(true);
      return handlers;
    },
    retry: () => budget.retry(),
    stats: () => ({ ...stats }),
  };
}
