// Large segments (segmentation offload): TCP hands the link up to 64 KB of
// payload behind one header and the link cuts it into MSS-sized segments, as
// a NIC's TSO or the shim's GSO does. The peer must see exactly what it would
// see without the offload: MSS-sized segments in sequence, retransmissions of
// any part, the window and the persist timer obeyed.
import { assert, assertEquals, assertInstanceOf, assertThrows } from "@std/assert";
import { ConfigError, parseStackConfig } from "../src/mod.ts";
import { describe, test } from "./harness.ts";
import { ACK, established, PSH, type Seg } from "./tcp_dialogue.ts";

const segmentation = 65000;

describe("TCP segmentation offload", () => {
  test("a large segment reaches the peer as MSS-sized segments in order, PSH on the last only", () => {
    const d = established({ segmentation });
    d.write(10 * 1460);
    const segs: Seg[] = [];
    for (let i = 0; i < 10; i++) segs.push(d.expect({ seq: 1 + 1460 * i, ack: 1, len: 1460 }));
    d.recvNothing(1);
    for (let i = 0; i < 9; i++) assertEquals(segs[i].flags, ACK, `segment ${i}`);
    assertEquals(segs[9].flags, ACK | PSH);
    assertEquals(d.conn!.stats.largeSegsOut, 1);
    assertEquals(d.conn!.stats.segsOut >= 10, true);
    // The payload is the byte stream, cut where the MSS says.
    const all = new Uint8Array(segs.flatMap((s) => [...s.payload]));
    for (let i = 0; i < all.length; i++) {
      if (all[i] !== ((i * 7) & 0xff)) throw new Error(`byte ${i} differs`);
    }
  });

  test("without the offload (tcp.segmentationOffload false) the same bytes go as MSS-sized segments", () => {
    const d = established({ segmentation, tcp: { segmentationOffload: false } });
    d.write(4 * 1460);
    for (let i = 0; i < 4; i++) d.expect({ seq: 1 + 1460 * i, len: 1460 });
    assertEquals(d.conn!.stats.largeSegsOut, 0);
  });

  test("tcp.segmentationOffload is checked: a bad value is a ConfigError naming it", () => {
    assertEquals(
      parseStackConfig({
        device: "memif:/tmp/x,server",
        address: "198.18.0.1/24",
        tcp: { segmentationOffload: false },
      }).tcp?.segmentationOffload,
      false,
    );
    const e = assertThrows(() =>
      parseStackConfig({
        device: "memif:/tmp/x,server",
        address: "198.18.0.1/24",
        tcp: { segmentationOffload: "yes" },
      })
    );
    assertInstanceOf(e, ConfigError);
    assertEquals(e.field, "tcp.segmentationOffload");
  });

  test("a retransmission of part of a large segment: the RTO resends one MSS from SND.UNA, then slow start resends the rest", () => {
    const d = established({ segmentation });
    d.write(10 * 1460);
    for (let i = 0; i < 10; i++) d.expect({ seq: 1 + 1460 * i, len: 1460 });
    // The peer got the first two segments of the large one only.
    d.send({ flags: ACK, seq: 1, ack: 1 + 2 * 1460 });
    d.recvNothing(100);
    // RTO: one segment, from the middle of what was one large segment.
    d.expect({ seq: 1 + 2 * 1460, len: 1460 }, 400);
    d.send({ flags: ACK, seq: 1, ack: 1 + 4 * 1460 });
    // cwnd 2: the rest resent as a smaller large segment, cut into two.
    d.expect({ seq: 1 + 4 * 1460, len: 1460 });
    d.expect({ seq: 1 + 5 * 1460, len: 1460 });
    d.recvNothing(1);
    assert(d.conn!.stats.largeSegsOut >= 2);
  });

  test("a window smaller than one large segment: whole segments up to the window, the sliver waits (RFC 9293 3.8.6.2.1)", () => {
    const d = established({ segmentation, window: 5000 });
    d.write(20 * 1460);
    for (let i = 0; i < 3; i++) d.expect({ seq: 1 + 1460 * i, len: 1460 });
    d.recvNothing(5); // 620 bytes of window left: less than half the largest window, so they wait
    d.send({ flags: ACK, seq: 1, ack: 1 + 3 * 1460, window: 5000 });
    for (let i = 3; i < 6; i++) d.expect({ seq: 1 + 1460 * i, len: 1460 });
    d.recvNothing(5);
  });

  test("zero-window probes with the offload on: probes with backoff, then data resumes in MSS-sized segments", () => {
    const d = established({ segmentation });
    d.write(1000);
    d.expect({ seq: 1, len: 1000 });
    d.send({ flags: ACK, seq: 1, ack: 1001, window: 0 });
    const t0 = d.now;
    d.write(8 * 1460);
    let last = t0;
    for (const gap of [200, 400, 800, 1600]) {
      const s = d.expect({ flags: ACK, seq: 1000, ack: 1, len: 0 }, gap + 10);
      assertEquals(Math.round(s.at - last), gap);
      last = s.at;
      d.send({ flags: ACK, seq: 1, ack: 1001, window: 0 });
    }
    assertEquals(d.state(), "ESTABLISHED");
    d.send({ flags: ACK, seq: 1, ack: 1001, window: 65535 });
    for (let i = 0; i < 8; i++) d.expect({ seq: 1001 + 1460 * i, len: 1460 });
    d.recvNothing(1);
  });
});
