// Loss probes where RFC 8985 would leave the flight to the RTO (tlp.ts): more
// probes after an unanswered first, and a probe in fast recovery when
// no ACK follows the last one. Both come from a veth through 3% loss each
// way, where Linux's receiver (curl reading each flight at once) acknowledged
// a flight of a small window with one ACK: that ACK and the probe's lost
// made most of luna-ts's timeouts, 200 ms each on a path of 0.3 ms. Packet
// dialogues on the virtual clock; the peer (B) takes 20 ms to complete the
// handshake, so SRTT is 20 ms, the PTO 42 ms and the RTO 200 ms.
import { assertAlmostEquals, assertEquals } from "@std/assert";
import { ptoMinMs } from "../src/tcp/tlp.ts";
import { describe, test } from "./harness.ts";
import { ACK, type Dialogue, type Seg } from "./tcp_dialogue.ts";
import { at, mss, rackEstablished } from "./tcp_rack_dialogue.ts";

/**
 * A writes 20 segments, 10 leave; the first is lost, B SACKs the other nine
 * (fast recovery: the first goes again, PRR lets new data go). Returns the
 * time of B's last ACK and the highest segment A sent.
 */
function inRecovery(d: Dialogue): { lastAckAt: number; highest: Seg } {
  d.write(20 * mss);
  for (let i = 0; i < 10; i++) d.expect({ seq: at(i), len: mss });
  d.run(20);
  for (let k = 2; k <= 10; k++) d.send({ flags: ACK, seq: 1, ack: 1, sack: [[at(1), at(k)]] });
  assertEquals(d.tcb!.cc.inRecovery, true);
  const lastAckAt = d.now;
  d.run(1); // what the last ACKs let go reaches B
  let highest: Seg | undefined;
  while (d.queue.length > 0) {
    const s = d.recv();
    if (highest === undefined || s.seq > highest.seq) highest = s;
  }
  if (highest === undefined || highest.seq < at(10)) throw new Error("no new data was sent in recovery");
  return { lastAckAt, highest };
}

describe("loss probes (tlp.ts)", () => {
  test("an unanswered probe is followed by a second after twice the PTO; its ACK avoids the RTO", () => {
    const d = rackEstablished();
    d.write(3 * mss);
    for (let i = 0; i < 3; i++) d.expect({ seq: at(i), len: mss });
    // The flight's ACK is lost, and so is the probe's (or the probe).
    const p1 = d.expect({ seq: at(2), len: mss }, 50);
    const p2 = d.expect({ seq: at(2), len: mss }, 100);
    assertAlmostEquals(p2.at - p1.at, 2 * (2 * d.tcb!.rto.srttMs + ptoMinMs), 0.5);
    d.run(1);
    d.send({ flags: ACK, seq: 1, ack: at(3) });
    d.recvNothing(500);
    assertEquals(d.tcb!.stats.tlpProbes, 2);
    assertEquals(d.tcb!.stats.retransTimeouts, 0);
    assertEquals(d.tcb!.sendq.bytes, 0);
  });

  test("no third probe where it would go more than an RTO after the first (SRTT 20 ms): after the second, the RTO (RFC 6298 stays the last resort)", () => {
    const d = rackEstablished();
    d.write(3 * mss);
    for (let i = 0; i < 3; i++) d.expect({ seq: at(i), len: mss });
    d.expect({ seq: at(2), len: mss }, 50);
    const p2 = d.expect({ seq: at(2), len: mss }, 100);
    d.recvNothing(199);
    const r = d.expect({ seq: at(0), len: mss }, 2);
    assertAlmostEquals(r.at - p2.at, 200, 1.5);
    assertEquals(d.tcb!.stats.tlpProbes, 2);
    assertEquals(d.tcb!.stats.retransTimeouts, 1);
  });

  test("an answered probe lets the next tail have its own two", () => {
    const d = rackEstablished();
    d.write(3 * mss);
    for (let i = 0; i < 3; i++) d.expect({ seq: at(i), len: mss });
    d.expect({ seq: at(2), len: mss }, 50);
    d.run(20);
    // Both copies arrived (B's D-SACK): an RTT sample, and the episode is over (RFC 8985 7.4.1).
    d.send({ flags: ACK, seq: 1, ack: at(3), sack: [[at(2), at(3)]] });
    d.write(2 * mss);
    d.expect({ seq: at(3), len: mss });
    d.expect({ seq: at(4), len: mss });
    d.expect({ seq: at(4), len: mss }, 80);
    d.expect({ seq: at(4), len: mss }, 160);
    assertEquals(d.tcb!.stats.tlpProbes, 3);
    assertEquals(d.tcb!.stats.retransTimeouts, 0);
  });

  test("fast recovery: when no ACK follows the last one, new data probes at the PTO instead of the RTO", () => {
    const d = rackEstablished({ tcp: { congestion: "newreno" } });
    const { lastAckAt, highest } = inRecovery(d);
    // Every later ACK is lost: the probe is the segment after the highest sent, about a PTO later.
    const p = d.expect({ seq: highest.seq + mss, len: mss }, 60);
    assertEquals(
      p.at - lastAckAt <= 2 * d.tcb!.rto.srttMs + ptoMinMs + 1,
      true,
      `probe ${p.at - lastAckAt} ms after`,
    );
    // Its ACK says everything arrived: the recovery ends, without a timeout.
    d.run(20);
    d.send({ flags: ACK, seq: 1, ack: p.seq + mss });
    assertEquals(d.tcb!.cc.inRecovery, false);
    assertEquals(d.tcb!.stats.retransTimeouts, 0);
    assertEquals(d.tcb!.stats.tlpProbes, 1);
  });

  test("fast recovery with nothing new to send: the probe is the segment at SND.UNA", () => {
    const d = rackEstablished({ tcp: { congestion: "newreno" } });
    d.write(10 * mss);
    for (let i = 0; i < 10; i++) d.expect({ seq: at(i), len: mss });
    d.run(20);
    for (let k = 2; k <= 10; k++) d.send({ flags: ACK, seq: 1, ack: 1, sack: [[at(1), at(k)]] });
    const r = d.expect({ seq: at(0), len: mss }); // the fast retransmit, lost
    d.queue.length = 0;
    const p = d.expect({ seq: at(0), len: mss }, 60); // not segment 9, which B holds
    assertEquals(p.at - r.at <= 2 * d.tcb!.rto.srttMs + ptoMinMs + 1, true);
    d.run(20);
    d.send({ flags: ACK, seq: 1, ack: at(10) });
    d.recvNothing(300);
    assertEquals(d.tcb!.stats.retransTimeouts, 0);
    assertEquals(d.tcb!.sendq.bytes, 0);
  });

  test("lossDetection rfc6675: no probes, in recovery or out", () => {
    const d = rackEstablished({ tcp: { lossDetection: "rfc6675" } });
    d.write(3 * mss);
    for (let i = 0; i < 3; i++) d.expect({ seq: at(i), len: mss });
    d.recvNothing(199);
    d.expect({ seq: at(0), len: mss }, 5);
    assertEquals(d.tcb!.stats.tlpProbes, 0);
  });
});
