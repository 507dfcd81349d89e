// The send buffer grows with the congestion window (as Linux's tcp_sndbuf_expand):
// a connection may queue twice its cwnd, at least tcp.sndBufBytes and at most
// tcp.sndBufBytesMax, so that a window's worth waits behind the window in flight.
import { assertEquals } from "@std/assert";
import { createHeapZone, createMemoryLink, createStack } from "../src/mod.ts";
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

  test("a stack config that sizes the send buffer and gives no maximum keeps it fixed (as SO_SNDBUF)", async () => {
    const maxOf = async (tcp: Record<string, number> | undefined): Promise<number> => {
      const [la, lb] = createMemoryLink({ zone: createHeapZone({ name: "a", count: 256 }) });
      const a = await createStack({ device: la, address: "198.18.0.1/24", tcp });
      const b = await createStack({ device: lb, address: "198.18.0.2/24" });
      b.listen(7, () => ({}));
      const c = a.connect("198.18.0.2", 7, {});
      const most = c.tcb.sndBufBytesMax;
      await a.close(100);
      await b.close(100);
      return most;
    };
    assertEquals(await maxOf(undefined), 4 << 20);
    assertEquals(await maxOf({ sndBufBytes: 65536 }), 65536);
    assertEquals(await maxOf({ sndBufBytes: 65536, sndBufBytesMax: 1 << 20 }), 1 << 20);
    assertEquals(await maxOf({ sndBufBytesMax: 2 << 20 }), 2 << 20);
  });
});
