// Autocorking (src/tcp/autocork.ts): where the device cuts large segments,
// small writes made while data is in flight leave together at the end of the
// loop's iteration, as one large segment, instead of a packet each. With
// nothing in flight, or without the offload, a write goes at once.
import { assertEquals } from "@std/assert";
import { describe, test } from "./harness.ts";
import { ACK, established } from "./tcp_dialogue.ts";

const segmentation = 65000;

describe("TCP autocorking", () => {
  test("writes of one iteration with data in flight leave as one large segment at its end", () => {
    const d = established({ segmentation });
    d.write(1460); // nothing in flight: at once
    assertEquals(d.conn!.stats.segsOut > 0, true);
    const out = d.conn!.stats.segsOut;
    const large = d.conn!.stats.largeSegsOut;
    for (let i = 1; i <= 3; i++) d.write(1460, 1460 * i);
    assertEquals(d.conn!.stats.segsOut, out, "held while the first segment is in flight");
    for (let i = 0; i < 4; i++) d.expect({ seq: 1 + 1460 * i, ack: 1, len: 1460 });
    assertEquals(d.conn!.stats.largeSegsOut, large + 1, "the three writes went as one large segment");
    d.send({ flags: ACK, seq: 1, ack: 1 + 4 * 1460 });
    d.recvNothing(5);
  });

  test("without the offload each write goes at once", () => {
    const d = established({ segmentation, tcp: { segmentationOffload: false } });
    d.write(1460);
    const out = d.conn!.stats.segsOut;
    d.write(1460, 1460);
    assertEquals(d.conn!.stats.segsOut, out + 1);
    d.expect({ seq: 1, len: 1460 });
    d.expect({ seq: 1461, len: 1460 });
  });
});
