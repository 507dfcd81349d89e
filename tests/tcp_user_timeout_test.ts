// The user timeout (RFC 9293 3.8.3; Linux TCP_USER_TIMEOUT): data that waits
// unacknowledged for too long, whether the peer is gone or keeps its window
// shut (a reader that never reads), ends the connection with a RST.
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { ACK, established, RST } from "./tcp_dialogue.ts";
import { describe, test } from "./harness.ts";

describe("RFC 9293 3.8.3 user timeout", () => {
  test("data nobody acknowledges: the connection is aborted with a RST once the user timeout passes", () => {
    const d = established({ tcp: { userTimeoutMs: 3000 } });
    const t0 = d.now;
    d.write(100);
    d.expect({ flags: ACK | 8, seq: 1, len: 100 });
    let rst: number | undefined;
    for (let i = 0; i < 20 && rst === undefined; i++) {
      const s = d.recv(4000);
      if ((s.flags & RST) !== 0) rst = s.at;
    }
    assert(rst !== undefined, "a RST ended it");
    assertEquals(Math.round(rst - t0), 3000);
    assertEquals(d.state(), "CLOSED");
    assertStringIncludes(d.events.at(-1)!, "close: connection timed out");
    assertEquals(d.tcp.counters.userTimeouts, 1);
  });

  test("a peer that keeps its window shut: probes answered with window 0 do not keep the connection alive", () => {
    const d = established({ tcp: { userTimeoutMs: 5000 } });
    d.write(1000);
    d.expect({ seq: 1, len: 1000 });
    d.send({ flags: ACK, seq: 1, ack: 1001, window: 0 }); // everything acknowledged, the window shut
    const t0 = d.now;
    d.write(500); // waits from now
    let rst: number | undefined;
    for (let i = 0; i < 20 && rst === undefined; i++) {
      const s = d.recv(6000);
      if ((s.flags & RST) !== 0) rst = s.at;
      else d.send({ flags: ACK, seq: 1, ack: 1001, window: 0 }); // a probe, answered: still shut
    }
    assert(rst !== undefined, "a RST ended it");
    assertEquals(Math.round(rst - t0), 5000);
    assertEquals(d.state(), "CLOSED");
  });

  test("progress restarts it, and without data waiting it never fires", () => {
    // A long RTO: nothing is retransmitted while the ACKs come at 800 ms.
    const d = established({ tcp: { userTimeoutMs: 1000, rtoMinMs: 5000 } });
    for (let k = 0; k < 5; k++) {
      d.write(100);
      d.expect({ seq: 1 + 100 * k, len: 100 });
      d.run(800);
      d.send({ flags: ACK, seq: 1, ack: 101 + 100 * k });
    }
    d.recvNothing(10_000);
    assertEquals(d.state(), "ESTABLISHED");
  });
});
