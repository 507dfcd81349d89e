// Timers, segment by segment on the virtual clock: retransmission (RFC 6298),
// fast retransmit and limited transmit (RFC 5681, RFC 3042), persist (RFC
// 9293 3.8.6.1, RFC 1122 4.2.2.17) and keepalive (RFC 9293 3.8.4, RFC 1122
// 4.2.3.6). Without timestamps, the handshake's RTT sample is ~0.1 ms, so the
// RTO starts at its 200 ms floor.
import { assertEquals } from "@std/assert";
import { describe, test } from "./harness.ts";
import { ACK, established, PSH, SYN, synSent } from "./tcp_dialogue.ts";

describe("TCP timers", () => {
  test("RTO: unacknowledged data is retransmitted after the RTO, which then doubles (RFC 6298 5.4-5.5)", () => {
    const d = established();
    d.write(100);
    const s0 = d.expect({ flags: ACK | PSH, seq: 1, len: 100 });
    let last = s0.at;
    for (const gap of [200, 400, 800, 1600]) {
      const s = d.expect({ flags: ACK | PSH, seq: 1, ack: 1, len: 100 }, gap + 10);
      assertEquals(Math.round(s.at - last), gap);
      last = s.at;
    }
  });

  test("RTO: an ACK of new data restarts the timer for what is left (RFC 6298 5.3)", () => {
    const d = established();
    d.write(2920);
    const s0 = d.expect({ seq: 1, len: 1460 });
    d.expect({ seq: 1461, len: 1460 });
    d.run(150 - (d.now - s0.at));
    d.send({ flags: ACK, seq: 1, ack: 1461 });
    const t1 = d.now;
    const s = d.expect({ seq: 1461, len: 1460 }, 300);
    assertEquals(Math.round(s.at - t1), 200, "200 ms after the ACK, not after the first send");
  });

  test("RTO: after maxRetransmits the connection is aborted (RFC 9293 3.8.3 R2)", () => {
    const d = established({ tcp: { maxRetransmits: 2 } });
    d.write(100);
    d.expect({ seq: 1, len: 100 });
    d.expect({ seq: 1, len: 100 }, 210);
    d.expect({ seq: 1, len: 100 }, 410);
    d.recvNothing(790); // the third timeout, RTO 800 ms after the last retransmission, gives up
    assertEquals(d.state(), "ESTABLISHED");
    d.recvNothing(20);
    assertEquals(d.state(), "CLOSED");
    assertEquals(d.events, ["open", "close: connection timed out"]);
  });

  test("Karn: the ACK of a retransmitted segment gives no RTT sample; the backed-off RTO stays (RFC 6298 3, 5.5)", () => {
    const d = established();
    d.write(100);
    d.expect({ seq: 1, len: 100 });
    d.expect({ seq: 1, len: 100 }, 210); // RTO 200, now 400
    d.run(50);
    d.send({ flags: ACK, seq: 1, ack: 101 }); // 250 ms after the first send: a sample would make the RTO ~281 ms
    const t1 = d.now;
    d.write(100);
    d.expect({ seq: 101, len: 100 });
    const s = d.expect({ seq: 101, len: 100 }, 500);
    assertEquals(Math.round(s.at - t1), 400);
  });

  test("RTO: after a retransmitted SYN, the RTO is 3 s until a sample (RFC 6298 5.7)", () => {
    const d = synSent();
    d.expect({ flags: SYN, seq: 0 }, 1100); // the first SYN was lost
    d.send({ flags: SYN | ACK, seq: 0, ack: 1, mss: 1460 });
    d.expect({ flags: ACK, seq: 1, ack: 1 });
    const t0 = d.now;
    d.write(100);
    d.expect({ seq: 1, len: 100 });
    const s = d.expect({ seq: 1, len: 100 }, 3100);
    assertEquals(Math.round(s.at - t0), 3000);
  });

  test("three duplicate ACKs trigger fast retransmit (RFC 5681 3.2)", () => {
    const d = established();
    d.write(4 * 1460);
    for (let i = 0; i < 4; i++) d.expect({ seq: 1 + 1460 * i, len: 1460 });
    d.send({ flags: ACK, seq: 1, ack: 1 });
    d.send({ flags: ACK, seq: 1, ack: 1 });
    d.recvNothing(1);
    d.send({ flags: ACK, seq: 1, ack: 1 });
    d.expect({ flags: ACK, seq: 1, ack: 1, len: 1460 });
    d.recvNothing(10);
  });

  test("ACKs that change the window are not duplicate ACKs (RFC 5681 2)", () => {
    const d = established();
    d.write(4 * 1460);
    for (let i = 0; i < 4; i++) d.expect({ seq: 1 + 1460 * i, len: 1460 });
    for (let i = 1; i <= 3; i++) d.send({ flags: ACK, seq: 1, ack: 1, window: 65535 - i });
    d.recvNothing(10);
  });

  test("limited transmit: the first two duplicate ACKs each release one new segment (RFC 3042 2)", () => {
    const d = established();
    d.write(12 * 1460);
    for (let i = 0; i < 10; i++) d.expect({ seq: 1 + 1460 * i, len: 1460 }); // the initial window (RFC 6928)
    d.recvNothing(1);
    d.send({ flags: ACK, seq: 1, ack: 1 });
    d.expect({ seq: 1 + 1460 * 10, len: 1460 });
    d.send({ flags: ACK, seq: 1, ack: 1 });
    d.expect({ seq: 1 + 1460 * 11, len: 1460 });
    d.send({ flags: ACK, seq: 1, ack: 1 });
    d.expect({ seq: 1, len: 1460 }); // and the third: fast retransmit
  });

  test("zero window: persist timer probes with backoff, window update resumes sending (RFC 9293 3.8.6.1, RFC 1122 4.2.2.17)", () => {
    const d = established();
    d.write(1000);
    d.expect({ seq: 1, len: 1000 });
    d.send({ flags: ACK, seq: 1, ack: 1001, window: 0 });
    const t0 = d.now;
    d.write(500);
    let last = t0;
    for (const gap of [200, 400, 800, 1600, 3200, 6400]) {
      // A probe: an old sequence number elicits an ACK with the window; the connection stays.
      const s = d.expect({ flags: ACK, seq: 1000, ack: 1, len: 0 }, gap + 10);
      assertEquals(Math.round(s.at - last), gap);
      last = s.at;
      d.send({ flags: ACK, seq: 1, ack: 1001, window: 0 });
    }
    assertEquals(d.state(), "ESTABLISHED");
    d.send({ flags: ACK, seq: 1, ack: 1001, window: 65535 });
    d.expect({ flags: ACK | PSH, seq: 1001, len: 500 });
  });

  test("a window used up at SND.NXT with nothing in flight (its update lost): the persist timer probes it (RFC 9293 3.8.6.1)", () => {
    const d = established();
    d.write(1000);
    d.expect({ seq: 1, len: 1000 });
    d.send({ flags: ACK, seq: 1, ack: 1001, window: 65535 });
    // As after a window update A did not take (lost, or a pure ACK with an older SEG.SEQ that
    // moved nothing, RFC 9293 3.10.7.4): 1000 bytes offered by the ACK of 1, all of them sent.
    const tcb = d.tcb!;
    tcb.sndWnd = 1000;
    tcb.sndWl2 = (tcb.sndUna - 1000) >>> 0;
    d.write(500);
    d.recvNothing(150); // no window, and no ACK to come: only a probe asks for one
    d.expect({ flags: ACK, seq: 1000, ack: 1, len: 0 }, 100);
    d.send({ flags: ACK, seq: 1, ack: 1001, window: 65535 });
    d.expect({ flags: ACK | PSH, seq: 1001, len: 500 });
  });

  test("keepalive probes after idle, connection aborted after N unanswered (RFC 9293 3.8.4, RFC 1122 4.2.3.6)", () => {
    const tcp = { keepalive: true, keepaliveIdleMs: 10_000, keepaliveIntervalMs: 1000, keepaliveProbes: 3 };
    const d = established({ tcp });
    const t0 = d.now;
    let last = t0;
    for (const gap of [10_000, 1000, 1000]) {
      // <SEQ=SND.NXT-1>, no data: the peer answers with an ACK.
      const s = d.expect({ flags: ACK, seq: 0, ack: 1, len: 0 }, gap + 10);
      assertEquals(Math.round(s.at - last), gap);
      last = s.at;
    }
    d.recvNothing(1100);
    assertEquals(d.state(), "CLOSED");
    assertEquals(d.events, ["open", "close: keepalive timed out"]);
  });

  test("keepalive: an answered probe restarts the idle time (RFC 1122 4.2.3.6)", () => {
    const tcp = { keepalive: true, keepaliveIdleMs: 10_000, keepaliveIntervalMs: 1000, keepaliveProbes: 3 };
    const d = established({ tcp });
    d.expect({ flags: ACK, seq: 0, len: 0 }, 10_010);
    d.send({ flags: ACK, seq: 1, ack: 1 });
    d.recvNothing(9_990);
    d.expect({ flags: ACK, seq: 0, len: 0 }, 1100);
    assertEquals(d.state(), "ESTABLISHED");
  });
});
