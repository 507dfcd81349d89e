// The congestion window counts whole segments: a bulk sender with Nagle off
// (as `luna serve http` runs) whose window leaves room for part of a segment
// sends a whole one (room for half or more) or waits for the next ACK (less),
// never the runt that would fill the window to the byte. Measured on a veth
// through 3% loss, runts were a fifth of the packets luna-ts sent; on the
// in-memory link (1 Gbit/s, 0.1 ms round trips, 3% loss each way, 10 MB,
// seeds 1 and 2) a third more packets than the data needs, each as likely
// lost as a whole one. Before: 9343 and 9405 segments for 6907 segments'
// worth of data, 611 and 410 Mbit/s; after: 7123 and 7112 segments (the
// retransmissions among them), 614 and 614 Mbit/s.
import { assertEquals, assertGreaterOrEqual, assertLessOrEqual } from "@std/assert";
import { describe, test } from "./harness.ts";
import { oneWay } from "./tcp_sim.ts";

const mssBytes = 1448; // 1500 - 20 - 20 - 12 (timestamps)

/** `bytes` one way through `loss` both ways at 1 Gbit/s, 0.1 ms round trips, Nagle off: the sender's counters. */
function bulk(loss: number, seed: number, bytes: number) {
  const { mbit, stats: s } = oneWay({ seed, bytes, loss, tcp: { noDelay: true } });
  return { mbit, segsOut: s.segsOut, retransSegs: s.retransSegs, rtos: s.retransTimeouts };
}

describe("congestion window in whole segments", () => {
  test(
    "Nagle off, 3% loss: no runts the window cuts off; segments sent are the data's plus the retransmissions",
    () => {
      const bytes = 4e6;
      const ideal = Math.ceil(bytes / mssBytes);
      for (const seed of [1, 2]) {
        const r = bulk(0.03, seed, bytes);
        console.log(
          `3% loss, seed ${seed}: ${r.mbit.toFixed(0)} Mbit/s, ${r.segsOut} segments for ${ideal} of data, ` +
            `${r.retransSegs} retransmitted, ${r.rtos} timeouts`,
        );
        // The handshake's ACK, the request-less stream's FIN and a few window-edge tails besides.
        assertLessOrEqual(r.segsOut, ideal + r.retransSegs + 8);
        assertGreaterOrEqual(r.mbit, 450);
      }
    },
    { timeoutMs: 120_000 },
  );

  test("Nagle off, no loss: one segment per MSS of data", () => {
    const bytes = 2e6;
    const r = bulk(0, 1, bytes);
    assertEquals(r.retransSegs, 0);
    assertLessOrEqual(r.segsOut, Math.ceil(bytes / mssBytes) + 4);
  }, { timeoutMs: 60_000 });
});
