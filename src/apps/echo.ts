/**
 * The echo server (RFC 862 over TCP): every byte received is sent back.
 * Received bytes are read where they lie in the packet buffers they arrived in and
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
import { type App, appStats, countClose, waitWritable, ZoneBudget } from "./app.ts";
import { type AppLimits, appLimitDefaults, ConnectionGuard } from "./guard.ts";

interface EchoState {
  ended: boolean;
}

/** An echo server; see the module documentation. */
export function echoApp(zone: MemZone, limits: Readonly<AppLimits> = appLimitDefaults): App {
  const stats = appStats();
  const budget = new ZoneBudget(zone, stats, (c) => pump(c));
  const guard = new ConnectionGuard<Connection>(limits, stats);

  function pump(c: Connection): void {
    const s = c.data as EchoState;
    guard.active(c);
    // Each write copies at most one received segment into one or two buffers.
    // Pieces are read where they lie in the zone, without a view object per piece.
    let left = budget.available();
    for (;;) {
      const len = c.pieceLength;
      if (len === 0) break;
      if (left <= 0) {
        budget.park(c);
        return;
      }
      const n = c.write(c.zoneBytes, c.pieceOffset, len);
      left -= 2;
      if (n > 0) {
        // Counted where they are consumed: pump also runs from onEnd and from budget.retry.
        c.consume(n);
        stats.bytesIn += n;
        stats.bytesOut += n;
      }
      if (n < len) {
        waitWritable(c);
        return;
      }
    }
    if (s.ended && c.readable === 0 && c.writable) c.close();
  }

  const handlers: ConnectionHandlers = {
    onData: pump,
    onWritable: pump,
    onEnd(c) {
      (c.data as EchoState).ended = true;
      pump(c);
    },
    onClose(c, error) {
      budget.forget(c);
      guard.forget(c);
      countClose(stats, error);
    },
  };

  return {
    name: "echo",
    accept(c) {
      stats.accepted++;
      stats.open++;
      c.data = { ended: false } satisfies EchoState;
      c.setNoDelay(true);
      guard.accept(c);
      return handlers;
    },
    retry: () => budget.retry(),
    tick: (now) => guard.tick(now),
    limits,
    stats: () => ({ ...stats }),
  };
}
