// Resets and blind-attack defences, segment by segment: RFC 9293 3.10.7.4
// (first and second checks) with RFC 5961 (3.2 RST, 4.2 SYN, 5.2 ACK, 7
// throttling).
import { assertEquals } from "@std/assert";
import { describe, test } from "./harness.ts";
import { ACK, established, pattern, RST, SYN } from "./tcp_dialogue.ts";

describe("RFC 5961 resets and challenge ACKs", () => {
  test("ESTABLISHED: RST with SEG.SEQ = RCV.NXT resets the connection (RFC 5961 3.2, RFC 9293 3.10.7.4 second)", () => {
    for (const active of [false, true]) {
      const d = established({ active });
      d.send({ flags: RST, seq: 1 });
      d.recvNothing(5000);
      assertEquals(d.state(), "CLOSED");
      assertEquals(d.events, ["open", "close: connection reset by peer"]);
      assertEquals(d.tcp.connections, 0);
    }
  });

  test("RST with SEG.SEQ != RCV.NXT but in window elicits a challenge ACK (RFC 5961 3.2); exact RCV.NXT resets", () => {
    const d = established();
    d.send({ flags: RST, seq: 100 });
    d.expect({ flags: ACK, seq: 1, ack: 1, len: 0 });
    assertEquals(d.state(), "ESTABLISHED");
    d.send({ flags: RST | ACK, seq: 1, ack: 1 });
    d.recvNothing(10);
    assertEquals(d.state(), "CLOSED");
  });

  test("RST outside the window is silently dropped (RFC 5961 3.2, RFC 9293 3.10.7.4 first)", () => {
    const d = established();
    d.send({ flags: RST, seq: 100_000 }); // beyond RCV.NXT + RCV.WND (65535)
    d.send({ flags: RST, seq: 0 }); // before RCV.NXT
    d.recvNothing(10);
    assertEquals(d.state(), "ESTABLISHED");
  });

  test("SYN in ESTABLISHED elicits a challenge ACK and is dropped (RFC 5961 4.2, RFC 9293 3.10.7.4 fourth)", () => {
    for (const seq of [500, 0]) { // in the window, and the old ISN (irrespective of the sequence number)
      const d = established();
      d.send({ flags: SYN, seq, mss: 1460 });
      d.expect({ flags: ACK, seq: 1, ack: 1, len: 0 });
      d.recvNothing(10);
      assertEquals(d.state(), "ESTABLISHED", `SYN at ${seq}`);
    }
  });

  test("ACK beyond SND.NXT elicits an ACK and is dropped (RFC 5961 5.2)", () => {
    const d = established();
    d.send({ flags: ACK, seq: 1, ack: 50, payload: 100 }); // A sent nothing yet
    d.expect({ flags: ACK, seq: 1, ack: 1 });
    d.recvNothing(100);
    assertEquals(d.received, [], "its data was dropped with it");
    assertEquals(d.state(), "ESTABLISHED");
  });

  test("ACK below SND.UNA - MAX.SND.WND elicits an ACK and is dropped (RFC 5961 5.2)", () => {
    const d = established();
    d.send({ flags: ACK, seq: 1, ack: 1 - 70_000, payload: 100 }); // MAX.SND.WND is 65535
    d.expect({ flags: ACK, seq: 1, ack: 1 });
    d.recvNothing(100);
    assertEquals(d.received, []);
    // Within MAX.SND.WND below SND.UNA the ACK is merely old: the data is taken.
    d.send({ flags: ACK, seq: 1, ack: 1 - 60_000, payload: 100 });
    d.expect({ flags: ACK, seq: 1, ack: 101 }, 50);
    assertEquals(d.received, Array.from(pattern(100, 1)));
  });

  test("challenge ACKs are rate-limited (RFC 5961 7)", () => {
    const d = established({ tcp: { challengeAckPerSecond: 2 } });
    for (let i = 0; i < 2; i++) {
      d.send({ flags: RST, seq: 100 + i });
      d.expect({ flags: ACK, seq: 1, ack: 1 });
    }
    d.send({ flags: RST, seq: 200 });
    d.send({ flags: SYN, seq: 300 });
    d.recvNothing(10);
    assertEquals(d.tcp.counters.challengeAcksSuppressed, 2);
    d.run(1000); // the bucket refills
    d.send({ flags: RST, seq: 400 });
    d.expect({ flags: ACK, seq: 1, ack: 1 });
    assertEquals(d.state(), "ESTABLISHED");
  });

  test("ESTABLISHED: an out-of-window ACK elicits an ACK (RFC 9293 3.10.7.4 first)", () => {
    const d = established();
    d.send({ flags: ACK, seq: 100_000, ack: 1 });
    d.expect({ flags: ACK, seq: 1, ack: 1 });
    assertEquals(d.state(), "ESTABLISHED");
  });
});
