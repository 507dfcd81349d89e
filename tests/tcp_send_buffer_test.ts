// The send buffer grows with the congestion window (as Linux's tcp_sndbuf_expand):
// a connection may queue twice its cwnd, at least tcp.sndBufBytes and at most
// tcp.sndBufBytesMax, so that a window's worth waits behind the window in flight.
import { assertEquals } from "@std/assert";
import { describe, test } from "./harness.ts";
import { ACK, type Dialogue, established } from "./tcp_dialogue.ts";

/** B acknowledges everything A has sent, one ACK per segment. */
function ackAll(d: Dialogue): void {
  d.run(1);
  while (d.queue.length > 0) {
    const s = d.recv();
    d.send({ flags: ACK, seq: 1, ack: s.seq + s.payload.length, window: 65535 });
  }
}

describe("send buffer", () => {
  test("it holds twice the congestion window, then grows with it up to sndBufBytesMax", () => {
    const d = established({
      peer: { ws: 7 },
      tcp: { congestion: "newreno", sndBufBytes: 8192, sndBufBytesMax: 200_000 },
    });
    const t = d.tcb!;
    const cwnd0 = t.cc.cwnd;
    assertEquals(d.write(1_000_000), 2 * cwnd0); // more than sndBufBytes: 2 * the initial window
    for (let round = 0; round < 8; round++) {
      ackAll(d);
      d.run(1);
      assertEquals(t.sendq.bytes + t.sendSpace, Math.min(200_000, Math.max(8192, 2 * t.cc.cwnd)));
      d.write(1_000_000);
    }
    assertEquals(t.cc.cwnd > 100_000, true); // slow start doubled it past half the most
    assertEquals(t.sendq.bytes, 200_000);
    assertEquals(t.sendSpace, 0);
  });

  test("sndBufBytesMax at or under sndBufBytes: it stays at sndBufBytes", () => {
    const d = established({ tcp: { congestion: "newreno", sndBufBytes: 8192, sndBufBytesMax: 8192 } });
    assertEquals(d.write(1_000_000), 8192);
    for (let i = 0; i < 4 && d.tcb!.sendq.bytes > 0; i++) ackAll(d);
    assertEquals(d.tcb!.sendq.bytes, 0);
    assertEquals(d.write(1_000_000), 8192);
  });
});
