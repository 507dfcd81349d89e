/** NewReno: RFC 5681, RFC 3465, RFC 3042, RFC 6582 and the window side of RFC 6675. */
import { describe, test } from "./harness.ts";
import { assertEquals } from "@std/assert";
import { CcAction } from "../src/tcp/congestion.ts";
import { NewReno } from "../src/tcp/newreno.ts";

const mss = 1000;
// Sequence numbers start just below the wrap, so every comparison crosses it.
const iss = 0xffff_f000;

function seq(offset: number): number {
  return (iss + offset) >>> 0;
}

/** A controller in congestion avoidance with the given window. */
function inCa(cwnd: number, options: { sack?: boolean } = {}): NewReno {
  return new NewReno(mss, { initialWindow: cwnd, initialSsthresh: cwnd, sack: options.sack });
}

/** Three duplicate ACKs for `una` with `flight` outstanding and `nxt` next to send. */
function threeDupAcks(cc: NewReno, una: number, flight: number, nxt: number): number {
  cc.onDupAck(una, flight, nxt, 0);
  cc.onDupAck(una, flight, nxt, 0);
  return cc.onDupAck(una, flight, nxt, 0);
}

describe("tcp newreno", () => {
  test("slow start adds every byte an ACK covers (as Linux; RFC 3465 (2.3)'s L = 2*SMSS would add two)", () => {
    const cc = new NewReno(mss, { initialWindow: 4000 });
    cc.onAck(seq(1000), 1000, 3000, 0, -1);
    assertEquals(cc.cwnd, 5000);
    cc.onAck(seq(4000), 3000, 2000, 0, -1); // a stretch ACK of 3 segments
    assertEquals(cc.cwnd, 8000);
  });

  test("slow start grows to ssthresh at most; the ACK's rest does not carry over", () => {
    const cc = new NewReno(mss, { initialWindow: 4000, initialSsthresh: 6000 });
    cc.onAck(seq(4000), 4000, 0, 0, -1); // a stretch ACK of the whole window
    assertEquals(cc.cwnd, 6000);
  });

  test("RFC 3465 (2.3): slow start after a retransmission timeout adds at most 1*SMSS per ACK", () => {
    const cc = new NewReno(mss, { initialWindow: 10_000 });
    cc.onRetransmitTimeout(0, 10_000, seq(10_000));
    assertEquals([cc.cwnd, cc.ssthresh], [1000, 5000]);
    cc.onAck(seq(3000), 3000, 7000, 1, -1);
    assertEquals(cc.cwnd, 2000);
  });

  test("RFC 5681 (3.1) / RFC 3465 (2.1): congestion avoidance adds one SMSS per cwnd of bytes acknowledged", () => {
    const cc = inCa(4000);
    const grown: number[] = [];
    for (let i = 1; i <= 8; i++) {
      cc.onAck(seq(i * 1000), 1000, 3000, i, 50);
      grown.push(cc.cwnd);
    }
    // The 4th ACK completes a window of 4000 bytes: 5000; the 9th completes the next 5000: 6000.
    assertEquals(grown, [4000, 4000, 4000, 5000, 5000, 5000, 5000, 5000]);
    cc.onAck(seq(9000), 1000, 4000, 9, 50);
    assertEquals(cc.cwnd, 6000);
  });

  test("RFC 7661's concern: an application-limited sender does not grow the window", () => {
    const cc = new NewReno(mss, { initialWindow: 10_000 });
    cc.onAck(seq(1000), 1000, 1000, 0, -1); // 2000 in flight of a 10000 window
    assertEquals(cc.cwnd, 10_000);
    cc.onAck(seq(2000), 1000, 4000, 0, -1); // 5000 in flight: half the window is in use
    assertEquals(cc.cwnd, 11_000);
  });

  test("RFC 5681 (3.2): the third duplicate ACK: ssthresh = max(FlightSize/2, 2*SMSS), cwnd = ssthresh + 3*SMSS", () => {
    const cc = inCa(10_000);
    assertEquals(cc.onDupAck(seq(0), 10_000, seq(10_000), 0), CcAction.none);
    assertEquals(cc.onDupAck(seq(0), 10_000, seq(10_000), 0), CcAction.none);
    assertEquals(cc.dupAcks, 2);
    assertEquals(cc.onDupAck(seq(0), 10_000, seq(10_000), 0), CcAction.retransmit | CcAction.enteredRecovery);
    assertEquals([cc.ssthresh, cc.cwnd, cc.inRecovery], [5000, 8000, true]);
    // RFC 6582 (3.2 step 2): recover is the highest sequence number sent (held as SND.NXT).
    assertEquals(cc.recover, seq(10_000));
  });

  test("RFC 5681 (3.1) equation 4: ssthresh is at least 2*SMSS", () => {
    const cc = inCa(3000);
    threeDupAcks(cc, seq(0), 3000, seq(3000));
    assertEquals([cc.ssthresh, cc.cwnd], [2000, 5000]);
  });

  test("RFC 5681 (3.2 step 4): each further duplicate ACK inflates cwnd by one SMSS", () => {
    const cc = inCa(10_000);
    threeDupAcks(cc, seq(0), 10_000, seq(10_000));
    cc.onDupAck(seq(0), 10_000, seq(10_000), 0);
    cc.onDupAck(seq(0), 10_000, seq(10_000), 0);
    assertEquals(cc.cwnd, 10_000);
  });

  test("RFC 3042 (2): limited transmit lets cwnd + 2*SMSS be outstanding on the first two duplicate ACKs", () => {
    const cc = inCa(10_000);
    assertEquals([cc.canSend(10_000, 1000), cc.sendAllowance(10_000)], [false, 0]);
    cc.onDupAck(seq(0), 10_000, seq(10_000), 0);
    assertEquals([cc.canSend(10_000, 1000), cc.canSend(11_000, 1000)], [true, false]);
    cc.onDupAck(seq(0), 11_000, seq(11_000), 0);
    assertEquals(cc.sendAllowance(11_000), 1000);
    cc.onAck(seq(1000), 1000, 10_000, 0, 50); // new data: the count resets
    assertEquals(cc.sendAllowance(10_000), 0);
  });

  test("RFC 6582 (3.2 step 5): a partial ACK retransmits the next hole, deflates, and restarts the timer once", () => {
    const cc = inCa(10_000);
    threeDupAcks(cc, seq(0), 10_000, seq(10_000));
    cc.onDupAck(seq(0), 10_000, seq(10_000), 0); // cwnd 9000
    // Partial ACK of 3000 bytes: cwnd = 9000 - 3000 + 1000.
    const f1 = cc.onAck(seq(3000), 3000, 7000, 1, 50);
    assertEquals(f1, CcAction.retransmit | CcAction.restartTimer);
    assertEquals([cc.cwnd, cc.inRecovery], [7000, true]);
    // A partial ACK of less than one SMSS adds nothing back; no timer restart the second time.
    const f2 = cc.onAck(seq(3500), 500, 6500, 2, 50);
    assertEquals(f2, CcAction.retransmit);
    assertEquals(cc.cwnd, 6500);
  });

  test("RFC 6582 (3.2 step 3): a full ACK ends recovery with cwnd = min(ssthresh, max(FlightSize, SMSS) + SMSS)", () => {
    const cc = inCa(10_000);
    threeDupAcks(cc, seq(0), 10_000, seq(10_000));
    assertEquals(cc.onAck(seq(10_000), 10_000, 0, 1, 50), CcAction.exitedRecovery);
    assertEquals([cc.inRecovery, cc.cwnd, cc.ssthresh], [false, 2000, 5000]);
    const cc2 = inCa(10_000);
    threeDupAcks(cc2, seq(0), 10_000, seq(10_000));
    cc2.onAck(seq(12_000), 12_000, 8000, 1, 50); // new data sent during recovery still outstanding
    assertEquals(cc2.cwnd, 5000);
  });

  test("RFC 6582 (3.2 step 2): after a timeout, duplicate ACKs not beyond recover do not fast-retransmit", () => {
    const cc = inCa(10_000);
    cc.onRetransmitTimeout(0, 10_000, seq(10_000));
    assertEquals(cc.recover, seq(10_000));
    // Duplicates of the go-back-N retransmissions, at or below recover.
    assertEquals(threeDupAcks(cc, seq(10_000), 3000, seq(10_000)), CcAction.none);
    assertEquals([cc.inRecovery, cc.ssthresh], [false, 5000]);
    // New data acknowledged past recover: fast retransmit works again.
    cc.onAck(seq(11_000), 1000, 3000, 1, 50);
    assertEquals(
      threeDupAcks(cc, seq(11_000), 4000, seq(15_000)) & CcAction.enteredRecovery,
      CcAction.enteredRecovery,
    );
  });

  test("RFC 5681 (3.1): a timeout sets cwnd to one segment; a second one in a row keeps ssthresh", () => {
    const cc = inCa(20_000);
    cc.onRetransmitTimeout(0, 20_000, seq(20_000));
    assertEquals([cc.cwnd, cc.ssthresh], [1000, 10_000]);
    cc.onRetransmitTimeout(1, 1000, seq(20_000));
    assertEquals([cc.cwnd, cc.ssthresh], [1000, 10_000]);
  });

  test("RFC 6582 (3.2 step 4): a timeout ends fast recovery", () => {
    const cc = inCa(10_000);
    threeDupAcks(cc, seq(0), 10_000, seq(10_000));
    cc.onRetransmitTimeout(5, 10_000, seq(12_000));
    assertEquals([cc.inRecovery, cc.cwnd, cc.recover], [false, 1000, seq(12_000)]);
  });

  test("RFC 5681 (4.1): restarting after idle sets cwnd to min(IW, cwnd)", () => {
    const big = new NewReno(mss); // IW 10000 (RFC 6928)
    for (let i = 1; i <= 15; i++) big.onAck(seq(2000 * i), 2000, big.cwnd, i, 50);
    assertEquals(big.cwnd, 40_000);
    big.onIdleRestart(100);
    assertEquals(big.cwnd, 10_000);
    const small = new NewReno(mss);
    small.onRetransmitTimeout(0, 10_000, seq(10_000));
    small.onIdleRestart(100);
    assertEquals(small.cwnd, 1000);
  });

  test("RFC 5681 (3.1) / RFC 6928 (2): after a lost SYN the initial window is one segment", () => {
    const cc = new NewReno(mss);
    cc.onSynRetransmitted();
    assertEquals(cc.cwnd, 1000);
  });

  test("RFC 6675 (5): with SACK, recovery sets cwnd = ssthresh, no inflation, no partial-ACK retransmission", () => {
    const cc = inCa(10_000, { sack: true });
    assertEquals(
      threeDupAcks(cc, seq(0), 10_000, seq(10_000)),
      CcAction.retransmit | CcAction.enteredRecovery,
    );
    assertEquals([cc.ssthresh, cc.cwnd], [5000, 5000]);
    cc.onDupAck(seq(0), 10_000, seq(10_000), 0);
    assertEquals(cc.cwnd, 5000);
    assertEquals(cc.onAck(seq(2000), 2000, 8000, 1, 50), CcAction.none);
    assertEquals([cc.cwnd, cc.inRecovery], [5000, true]);
    assertEquals(cc.onAck(seq(10_000), 8000, 0, 2, 50), CcAction.exitedRecovery);
    assertEquals(cc.cwnd, 5000);
  });

  test("RFC 6675 (5 step 4): SACK loss detection may enter recovery before three duplicate ACKs", () => {
    const cc = inCa(10_000, { sack: true });
    cc.onDupAck(seq(0), 10_000, seq(10_000), 0);
    cc.enterRecovery(1, 10_000, seq(10_000));
    assertEquals([cc.inRecovery, cc.cwnd, cc.recover], [true, 5000, seq(10_000)]);
    cc.enterRecovery(2, 5000, seq(11_000)); // already recovering: no second reduction
    assertEquals([cc.cwnd, cc.recover], [5000, seq(10_000)]);
  });
});
