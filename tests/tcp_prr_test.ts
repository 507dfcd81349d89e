// Proportional rate reduction (RFC 6937), segment by segment: the single-loss
// example of RFC 6937 section 5 (cwnd = FlightSize = 20 segments, one loss,
// Limited Transmit sends two new segments, then the fast retransmit, then
// one new segment for every two ACKs while pipe falls toward ssthresh), with
// NewReno's and CUBIC's ssthresh. DupThresh detection (lossDetection
// "rfc6675") as the example assumes.
import { assertEquals } from "@std/assert";
import { describe, test } from "./harness.ts";
import { ACK, type Dialogue, established } from "./tcp_dialogue.ts";

const mss = 1460;
const at = (i: number) => 1 + mss * i;

/** 20 segments in flight with cwnd 20 segments: the initial window, each segment ACKed alone. */
function twentyInFlight(congestion: "newreno" | "cubic"): Dialogue {
  const d = established({ peer: { sackPermitted: true }, tcp: { congestion, lossDetection: "rfc6675" } });
  d.write(200 * mss);
  for (let i = 0; i < 10; i++) d.expect({ seq: at(i), len: mss });
  for (let i = 1; i <= 10; i++) d.send({ flags: ACK, seq: 1, ack: at(i) }); // slow start: two for each
  for (let i = 10; i < 30; i++) d.expect({ seq: at(i), len: mss });
  assertEquals(d.tcb!.cc.cwnd, 20 * mss);
  assertEquals(d.tcb!.flight, 20 * mss);
  return d;
}

/** The first of the 20 is lost; B SACKs the others one by one. What A sends for each ACK: N(ew), R(etransmission) or nothing. */
function pattern(d: Dialogue, acks: number): string[] {
  const sent: string[] = [];
  for (let k = 1; k <= acks; k++) {
    d.send({ flags: ACK, seq: 1, ack: at(10), sack: [[at(11), at(11 + k)]] });
    d.run(0.5);
    let s = "";
    while (d.queue.length > 0) s += d.recv().seq === at(10) ? "R" : "N";
    sent.push(s);
  }
  return sent;
}

describe("PRR (RFC 6937)", () => {
  test("NewReno: N N R, then one new segment every second ACK (RFC 6937 5, the single-loss example)", () => {
    const d = twentyInFlight("newreno");
    const sent = pattern(d, 14);
    assertEquals(sent, ["N", "N", "R", "", "N", "", "N", "", "N", "", "N", "", "N", ""]);
    assertEquals(d.tcb!.cc.ssthresh, 11 * mss); // half of the 22 segments in flight at the third ACK
  });

  test("CUBIC: the same proportion at beta 0.7: seven segments for every ten delivered (RFC 6937 3, RFC 9438 4.6)", () => {
    const d = twentyInFlight("cubic");
    const sent = pattern(d, 12);
    assertEquals(sent.slice(0, 3), ["N", "N", "R"]);
    const after = sent.slice(3).join("").length;
    // prr_out after k ACKs in recovery is ceil(k * 0.7) segments: 10 ACKs, 7 segments, the retransmission among them.
    assertEquals(after + 1, Math.ceil(10 * 0.7));
  });

  test("PRR-SSRB: once pipe is below ssthresh, at most one segment more than delivered per ACK (RFC 6937 3)", () => {
    const d = twentyInFlight("newreno");
    pattern(d, 2);
    // Many segments lost at once: one ACK SACKs far above, pipe falls under ssthresh.
    d.send({ flags: ACK, seq: 1, ack: at(10), sack: [[at(25), at(32)]] });
    d.run(0.5);
    const n = d.queue.length;
    d.queue.length = 0;
    // Delivered 7 segments (the ACK's new SACKs), pipe far below ssthresh: at most 7 + 1 go.
    assertEquals(n <= 8 && n >= 1, true, `sent ${n}`);
  });
});
