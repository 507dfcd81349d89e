// ECN (RFC 3168 6.1) and DCTCP (RFC 8257), segment by segment on the
// virtual clock: the handshake that agrees on ECN both ways (asked and
// accepted, asked and refused, not asked), ECT(0) on new data only, the
// receiver's CE -> ECE -> CWR echo, the sender's once-per-window reduction
// with CWR, DCTCP's exact echo (RFC 8257 3.2) and its alpha following the
// fraction of marked bytes (3.3).
import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import { Dctcp } from "../src/tcp/dctcp.ts";
import { describe, test } from "./harness.ts";
import {
  ACK,
  CWR,
  Dialogue,
  type DialogueOptions,
  ECE,
  listening,
  PSH,
  type Seg,
  SYN,
} from "./tcp_dialogue.ts";

const mss = 1460;
const ect0 = 2;
const ce = 3;
/** The relative sequence number of A's `i`-th full segment (0-based). */
const at = (i: number) => 1 + mss * i;

/** A listens; B's SYN asks for ECN (`ask`) or not; returns the dialogue once ESTABLISHED and A's SYN-ACK. */
function passive(o: DialogueOptions, ask: boolean): { d: Dialogue; synAck: Seg } {
  const d = listening(o);
  d.send({ flags: SYN | (ask ? ECE | CWR : 0), seq: 0, ...d.synOptions() });
  const synAck = d.expect({ seq: 0, ack: 1, ecn: 0 });
  d.send({ flags: ACK, seq: 1, ack: 1 });
  assertEquals(d.state(), "ESTABLISHED");
  return { d, synAck };
}

/** A connects; B answers its SYN with SYN-ACK carrying `synAckFlags` besides SYN|ACK; returns A's SYN too. */
function active(o: DialogueOptions, synAckFlags: number): { d: Dialogue; syn: Seg } {
  const d = new Dialogue({ ...o, active: true });
  d.connect();
  const syn = d.expect({ seq: 0, ecn: 0 });
  d.send({ flags: SYN | ACK | synAckFlags, seq: 0, ack: 1, ...d.synOptions() });
  d.expect({ flags: ACK, seq: 1, ack: 1, ecn: 0 });
  assertEquals(d.state(), "ESTABLISHED");
  return { d, syn };
}

/** An ECN connection, passive, A's SYN-ACK checked. */
function ecnEstablished(o: DialogueOptions = {}): Dialogue {
  const { d, synAck } = passive(o, true);
  assertEquals(synAck.flags, SYN | ACK | ECE);
  assertEquals(d.tcb!.ecnOk, true);
  return d;
}

describe("ECN negotiation (RFC 3168 6.1.1)", () => {
  test("an ECN-setup SYN (ECE|CWR) is accepted by default: the SYN-ACK carries ECE alone, data leaves ECT(0)", () => {
    const d = ecnEstablished();
    d.write(100);
    d.expect({ flags: ACK | PSH, seq: 1, len: 100, ecn: ect0 });
    assertEquals(d.tcp.counters.ecnConnections, 1);
  });

  test('with ecn "off" an ECN-setup SYN is refused: SYN-ACK without ECE, data Not-ECT', () => {
    const { d, synAck } = passive({ tcp: { ecn: "off" } }, true);
    assertEquals(synAck.flags, SYN | ACK);
    assertEquals(d.tcb!.ecnOk, false);
    d.write(100);
    d.expect({ flags: ACK | PSH, seq: 1, len: 100, ecn: 0 });
  });

  test('a SYN that does not ask gets no ECE, even with ecn "on"; data Not-ECT', () => {
    const { d, synAck } = passive({ tcp: { ecn: "on" } }, false);
    assertEquals(synAck.flags, SYN | ACK);
    d.write(100);
    d.expect({ flags: ACK | PSH, seq: 1, len: 100, ecn: 0 });
  });

  test("by default an active open does not ask (Linux tcp_ecn=2): a plain SYN", () => {
    const { d, syn } = active({}, 0);
    assertEquals(syn.flags, SYN);
    assertEquals(d.tcb!.ecnOk, false);
  });

  test('with ecn "on" the SYN asks (ECE|CWR); a SYN-ACK with ECE accepts: data ECT(0)', () => {
    const { d, syn } = active({ tcp: { ecn: "on" } }, ECE);
    assertEquals(syn.flags, SYN | ECE | CWR);
    assertEquals(d.tcb!.ecnOk, true);
    d.write(100);
    d.expect({ flags: ACK | PSH, seq: 1, len: 100, ecn: ect0 });
  });

  test("asked and refused: a SYN-ACK without ECE leaves ECN off; data Not-ECT", () => {
    const { d } = active({ tcp: { ecn: "on" } }, 0);
    assertEquals(d.tcb!.ecnOk, false);
    d.write(100);
    d.expect({ flags: ACK | PSH, seq: 1, len: 100, ecn: 0 });
  });

  test("a SYN-ACK with both ECE and CWR is no ECN-setup SYN-ACK: ECN stays off", () => {
    const { d } = active({ tcp: { ecn: "on" } }, ECE | CWR);
    assertEquals(d.tcb!.ecnOk, false);
  });

  test('the per-connection mode overrides the stack\'s: a listener with ecn "off" refuses', () => {
    const d = new Dialogue({});
    d.tcp.listen(
      80,
      (c) => {
        d.conn = c;
        return d.handlers();
      },
      undefined,
      undefined,
      undefined,
      "off",
    );
    d.send({ flags: SYN | ECE | CWR, seq: 0, ...d.synOptions() });
    d.expect({ flags: SYN | ACK, seq: 0, ack: 1 });
  });
});

describe("ECN signalling (RFC 3168 6.1.2, 6.1.3, 6.1.5)", () => {
  test("receiver: CE seen -> ECE on every ACK until a segment with CWR arrives; ACKs Not-ECT", () => {
    const d = ecnEstablished();
    d.send({ flags: ACK | PSH, seq: 1, ack: 1, payload: 100, ecn: ce });
    d.expect({ flags: ACK | ECE, ack: 101, ecn: 0 }, 50);
    d.send({ flags: ACK | PSH, seq: 101, ack: 1, payload: 100, ecn: ect0 });
    d.expect({ flags: ACK | ECE, ack: 201, ecn: 0 }, 50);
    d.send({ flags: ACK | PSH | CWR, seq: 201, ack: 1, payload: 100, ecn: ect0 });
    d.expect({ flags: ACK, ack: 301, ecn: 0 }, 50);
    assertEquals(d.tcb!.stats.ceMarksIn, 1);
    assertEquals(d.tcp.counters.ceMarksIn, 1);
  });

  test("receiver: a segment with CWR that is itself marked CE keeps the echo on", () => {
    const d = ecnEstablished();
    d.send({ flags: ACK | PSH, seq: 1, ack: 1, payload: 100, ecn: ce });
    d.expect({ flags: ACK | ECE, ack: 101 }, 50);
    d.send({ flags: ACK | PSH | CWR, seq: 101, ack: 1, payload: 100, ecn: ce });
    d.expect({ flags: ACK | ECE, ack: 201 }, 50);
  });

  test("sender: ECE halves the window once per window of data, without a retransmission; CWR on the next new segment", () => {
    const d = ecnEstablished({ tcp: { congestion: "newreno" } });
    d.write(30 * mss);
    // No PSH: each segment has more of the queued data behind it (large_segment.ts pushFlag).
    for (let i = 0; i < 10; i++) d.expect({ seq: at(i), len: mss, ecn: ect0, flags: ACK });
    d.run(10);
    d.send({ flags: ACK | ECE, seq: 1, ack: at(1) });
    const c = d.tcb!;
    // NewReno: ssthresh = FlightSize / 2 = 9 * 1460 / 2; cwnd drops to it.
    assertEquals(c.cc.ssthresh, Math.floor(9 * mss / 2));
    assertEquals(c.cc.cwnd, Math.floor(9 * mss / 2));
    assertEquals(c.stats.ecnReductions, 1);
    assertEquals(c.stats.retransSegs, 0);
    d.recvNothing(1); // 9 segments in flight, cwnd 4.5 segments
    // More ECE for data of the same window: no second reduction.
    for (let i = 2; i <= 6; i++) d.send({ flags: ACK | ECE, seq: 1, ack: at(i) });
    assertEquals(c.stats.ecnReductions, 1);
    assertEquals(c.stats.eceIn, 6);
    const s = d.expect({ seq: at(10), len: mss, ecn: ect0 });
    assertEquals(s.flags, ACK | CWR);
    assertEquals(c.stats.cwrOut, 1);
    // The segments after it go without CWR.
    d.send({ flags: ACK, seq: 1, ack: at(10) });
    for (const x of d.queue.splice(0)) assertEquals(x.flags, ACK, `${x.seq}`);
    // An ECE for data sent after the reduction: a new window, a new reduction.
    d.run(10);
    d.send({ flags: ACK | ECE, seq: 1, ack: at(11) });
    assertEquals(c.stats.ecnReductions, 2);
  });

  test("sender: a retransmission leaves Not-ECT (RFC 3168 6.1.5)", () => {
    const d = ecnEstablished();
    d.write(100);
    d.expect({ seq: 1, len: 100, ecn: ect0 });
    d.expect({ seq: 1, len: 100, ecn: 0 }, 1100); // the retransmission timer
  });
});

describe("DCTCP (RFC 8257)", () => {
  test("the receiver echoes CE exactly: on a change of CE state an owed ACK leaves at once with the old state (3.2)", () => {
    const d = ecnEstablished({ tcp: { congestion: "dctcp" } });
    d.send({ flags: ACK | PSH, seq: 1, ack: 1, payload: 100, ecn: ect0 });
    d.recvNothing(1); // one segment: the ACK is delayed
    d.send({ flags: ACK | PSH, seq: 101, ack: 1, payload: 100, ecn: ce });
    d.expect({ flags: ACK, ack: 101 }); // for the unmarked segment, without ECE
    d.expect({ flags: ACK | ECE, ack: 201 }); // for the marked one, at once
    d.send({ flags: ACK | PSH | CWR, seq: 201, ack: 1, payload: 100, ecn: ce });
    d.recvNothing(1); // CE state unchanged, CWR ignored: delayed as usual
    d.send({ flags: ACK | PSH, seq: 301, ack: 1, payload: 100, ecn: ce });
    d.expect({ flags: ACK | ECE, ack: 401 });
    d.send({ flags: ACK | PSH, seq: 401, ack: 1, payload: 100, ecn: ect0 });
    d.expect({ flags: ACK, ack: 501 }); // the state changed back: at once, no ECE
  });

  test("alpha follows the fraction of marked bytes: one ACK in four with ECE for many windows -> alpha ~ 0.25 (3.3)", () => {
    const d = ecnEstablished({ tcp: { congestion: "dctcp", sndBufBytes: 4 << 20 } });
    const cc = d.tcb!.cc;
    assert(cc instanceof Dctcp);
    assertEquals(cc.alpha, 1);
    let sent = d.write(3 << 20);
    let acks = 0;
    for (let round = 0; round < 400 && cc.windows < 120; round++) {
      d.run(2);
      const segs = d.queue.splice(0);
      assert(segs.length > 0, `round ${round}: A sent nothing (cwnd ${cc.cwnd})`);
      d.run(3);
      for (const s of segs) {
        if (s.payload.length === 0) continue;
        d.send({ flags: ACK | (acks++ % 4 === 3 ? ECE : 0), seq: 1, ack: s.seq + s.payload.length });
      }
      if (d.tcb!.sendq.bytes < 1 << 20) sent += d.write(1 << 20, sent);
    }
    assert(cc.windows >= 120, `only ${cc.windows} windows`);
    assertAlmostEquals(cc.alpha, 0.25, 0.06);
    assert(d.tcb!.stats.ecnReductions > 10);
  });
});
