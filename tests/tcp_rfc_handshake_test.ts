// Opening a connection, segment by segment: LISTEN, SYN-SENT, SYN-RECEIVED
// and CLOSED (no connection), per RFC 9293 3.5 and 3.10.7.1-3.10.7.4.
// Sequence numbers are relative to each side's ISN (see tcp_dialogue.ts).
import { assertEquals } from "@std/assert";
import { describe, test } from "./harness.ts";
import { ACK, Dialogue, FIN, listening, portB, PSH, RST, SYN, synReceived, synSent } from "./tcp_dialogue.ts";

describe("RFC 9293 handshake", () => {
  test("LISTEN: SYN elicits SYN|ACK with MSS, WS, SACK-permitted, TS (RFC 9293 3.10.7.2, RFC 7323 2.2)", () => {
    const d = listening();
    const tsVal = d.tsB();
    d.send({ flags: SYN, seq: 0, mss: 1460, ws: 7, sackPermitted: true, ts: [tsVal, 0] });
    const s = d.expect({ flags: SYN | ACK, seq: 0, ack: 1, mss: 1460, ws: 5, sackPermitted: true });
    // A SYN's window is never scaled (RFC 7323 2.2); TSecr echoes the SYN's TSval (RFC 7323 3.2).
    assertEquals(s.window, 65535);
    assertEquals(s.ts?.[1], tsVal);
    assertEquals(d.state(), "SYN-RECEIVED");
  });

  test("LISTEN: SYN|ACK offers WS, SACK-permitted and TS only if the SYN did (RFC 7323 1.3, 3.2; RFC 2018 2)", () => {
    const d = listening();
    d.send({ flags: SYN, seq: 0, mss: 1460 });
    d.expect({ flags: SYN | ACK, seq: 0, ack: 1, mss: 1460, ws: -1, sackPermitted: false, ts: undefined });
  });

  test("LISTEN: ACK without a connection elicits RST <SEQ=SEG.ACK> (RFC 9293 3.10.7.2)", () => {
    const d = listening();
    d.send({ flags: ACK, seq: 5, ack: 0x1234_5678 });
    d.expect({ flags: RST, seq: 0x1234_5678, len: 0 });
    assertEquals(d.tcp.connections, 0);
  });

  test("LISTEN: RST is ignored (RFC 9293 3.10.7.2 first)", () => {
    const d = listening();
    d.send({ flags: RST, seq: 5 });
    d.recvNothing(10);
    assertEquals(d.tcp.connections, 0);
  });

  test("LISTEN: a segment with neither SYN, ACK nor RST is dropped (RFC 9293 3.10.7.2 fourth)", () => {
    const d = listening();
    d.send({ flags: FIN, seq: 5, payload: 10 });
    d.recvNothing(10);
    assertEquals(d.tcp.connections, 0);
  });

  test("CLOSED: segment to a port nobody listens on elicits RST|ACK <SEQ=0><ACK=SEG.SEQ+SEG.LEN> (RFC 9293 3.10.7.1)", () => {
    const d = new Dialogue();
    d.send({ flags: SYN, seq: 0, mss: 1460 });
    d.expect({ flags: RST | ACK, seq: 0, ack: 1 });
    d.send({ flags: FIN, seq: 100, payload: 20 });
    d.expect({ flags: RST | ACK, seq: 0, ack: 121 });
  });

  test("CLOSED: an ACK to a port nobody listens on elicits RST <SEQ=SEG.ACK> (RFC 9293 3.10.7.1)", () => {
    const d = new Dialogue();
    d.send({ flags: ACK, seq: 100, ack: 777, payload: 20 });
    d.expect({ flags: RST, seq: 777 });
  });

  test("CLOSED: a RST draws nothing (RFC 9293 3.10.7.1)", () => {
    const d = new Dialogue();
    d.send({ flags: RST | ACK, seq: 100, ack: 777 });
    d.recvNothing(10);
  });

  test("active OPEN sends SYN with MSS, WS, SACK-permitted and TS, and enters SYN-SENT (RFC 9293 3.10.1)", () => {
    const d = new Dialogue();
    d.connect();
    const s = d.expect({ flags: SYN, seq: 0, mss: 1460, ws: 5, sackPermitted: true, window: 65535, len: 0 });
    assertEquals(s.ts?.[1], 0, "nothing to echo yet");
    assertEquals(d.state(), "SYN-SENT");
  });

  test("SYN-SENT: SYN|ACK with an unacceptable ACK elicits RST <SEQ=SEG.ACK> (RFC 9293 3.10.7.3)", () => {
    const d = synSent();
    d.send({ flags: SYN | ACK, seq: 0, ack: 5, mss: 1460 }); // beyond SND.NXT
    d.expect({ flags: RST, seq: 5 });
    d.send({ flags: SYN | ACK, seq: 0, ack: 0, mss: 1460 }); // SEG.ACK =< ISS
    d.expect({ flags: RST, seq: 0 });
    assertEquals(d.state(), "SYN-SENT");
  });

  test("SYN-SENT: RST with acceptable ACK: connection refused (RFC 9293 3.10.7.3 second)", () => {
    const d = synSent();
    d.send({ flags: RST | ACK, seq: 0, ack: 1 });
    d.recvNothing(10);
    assertEquals(d.state(), "CLOSED");
    assertEquals(d.events, ["close: connection refused"]);
  });

  test("SYN-SENT: RST without ACK, or with an unacceptable ACK, is dropped (RFC 9293 3.10.7.3)", () => {
    const d = synSent();
    d.send({ flags: RST, seq: 0 });
    d.send({ flags: RST | ACK, seq: 0, ack: 9 });
    d.recvNothing(10);
    assertEquals(d.state(), "SYN-SENT");
  });

  test("SYN-SENT: an ACK without SYN is dropped (RFC 9293 3.10.7.3 fifth)", () => {
    const d = synSent();
    d.send({ flags: ACK, seq: 0, ack: 1 });
    d.recvNothing(10);
    assertEquals(d.state(), "SYN-SENT");
  });

  test("SYN-SENT: SYN|ACK is answered <SEQ=SND.NXT><ACK=RCV.NXT> and establishes (RFC 9293 3.10.7.3 fourth)", () => {
    const d = synSent();
    d.send({ flags: SYN | ACK, seq: 0, ack: 1, mss: 1460 });
    d.expect({ flags: ACK, seq: 1, ack: 1, len: 0 });
    assertEquals(d.state(), "ESTABLISHED");
    assertEquals(d.events, ["open"]);
  });

  test("SYN-SENT: data in the SYN|ACK is taken after the handshake (RFC 9293 3.10.7.3: continue at the sixth step)", () => {
    const d = synSent({ tcp: { rcvBufBytes: 65535 } });
    d.send({ flags: SYN | ACK, seq: 0, ack: 1, mss: 1460, payload: 10 });
    d.expect({ flags: ACK, seq: 1, ack: 11 });
    assertEquals(d.received.length, 10);
  });

  test("ESTABLISHED: a retransmitted SYN|ACK (our ACK was lost) is answered with an ACK (RFC 9293 3.10.7.4 first)", () => {
    const d = synSent();
    d.send({ flags: SYN | ACK, seq: 0, ack: 1, mss: 1460 });
    d.expect({ flags: ACK, seq: 1, ack: 1 });
    for (let i = 0; i < 2; i++) {
      d.send({ flags: SYN | ACK, seq: 0, ack: 1, mss: 1460 });
      d.expect({ flags: ACK, seq: 1, ack: 1 });
    }
    assertEquals(d.state(), "ESTABLISHED");
  });

  test("SYN-SENT: the SYN is retransmitted with backoff, and the open fails after synRetries (RFC 6298 5.5, RFC 9293 3.8.3)", () => {
    const d = synSent({ tcp: { synRetries: 2 } });
    const t0 = d.now;
    const r1 = d.expect({ flags: SYN, seq: 0, mss: 1460 }, 1100);
    assertEquals(Math.round(r1.at - t0), 1000);
    const r2 = d.expect({ flags: SYN, seq: 0 }, 2100);
    assertEquals(Math.round(r2.at - r1.at), 2000);
    d.recvNothing(4100);
    assertEquals(d.state(), "CLOSED");
    assertEquals(d.events, ["close: connection timed out"]);
  });

  test("simultaneous open: SYN in SYN-SENT goes to SYN-RECEIVED, sends SYN|ACK; the ACK establishes (RFC 9293 3.5)", () => {
    const d = synSent();
    d.send({ flags: SYN, seq: 0, mss: 1460 });
    d.expect({ flags: SYN | ACK, seq: 0, ack: 1, mss: 1460 });
    assertEquals(d.state(), "SYN-RECEIVED");
    d.send({ flags: ACK, seq: 1, ack: 1 });
    d.recvNothing(10);
    assertEquals(d.state(), "ESTABLISHED");
    assertEquals(d.events, ["open"]);
  });

  test("simultaneous open: RST in SYN-RECEIVED refuses the connection (RFC 9293 3.10.7.4 second)", () => {
    const d = synSent();
    d.send({ flags: SYN, seq: 0, mss: 1460 });
    d.expect({ flags: SYN | ACK, seq: 0, ack: 1 });
    d.send({ flags: RST, seq: 1 });
    d.recvNothing(10);
    assertEquals(d.state(), "CLOSED");
    // "If the connection was initiated with an active OPEN ... signal the user 'connection refused'".
    assertEquals(d.events, ["close: connection refused"]);
  });

  test("SYN-RECEIVED: the ACK of our SYN establishes and hands the connection to the listener (RFC 9293 3.10.7.4 fifth)", () => {
    const d = synReceived();
    assertEquals(d.events, []);
    d.send({ flags: ACK, seq: 1, ack: 1 });
    d.recvNothing(10);
    assertEquals(d.state(), "ESTABLISHED");
    assertEquals(d.events, ["open"]);
  });

  test("SYN-RECEIVED: data on the completing ACK is delivered (RFC 9293 3.10.7.4 fifth, seventh)", () => {
    const d = synReceived({ tcp: { rcvBufBytes: 65535 } });
    d.send({ flags: ACK | PSH, seq: 1, ack: 1, payload: 100 });
    d.expect({ flags: ACK, seq: 1, ack: 101 }, 50);
    assertEquals(d.state(), "ESTABLISHED");
    assertEquals(d.received.length, 100);
  });

  test("SYN-RECEIVED: an ACK of something never sent elicits RST <SEQ=SEG.ACK> (RFC 9293 3.10.7.4 fifth)", () => {
    const d = synReceived();
    d.send({ flags: ACK, seq: 1, ack: 5 });
    d.expect({ flags: RST, seq: 5 });
    assertEquals(d.state(), "SYN-RECEIVED");
  });

  test("SYN-RECEIVED: RST at RCV.NXT returns a passive open to LISTEN (RFC 9293 3.10.7.4 second)", () => {
    const d = synReceived();
    d.send({ flags: RST, seq: 1 });
    d.recvNothing(10);
    assertEquals(d.tcp.connections, 0);
    assertEquals(d.events, [], "the application never heard of it");
    d.send({ flags: SYN, seq: 1000, mss: 1460 });
    d.expect({ flags: SYN | ACK, ack: 1001 });
  });

  test("SYN-RECEIVED: the SYN|ACK is retransmitted after the RTO, which doubles (RFC 6298 5.4, 5.5; RFC 9293 3.8.1)", () => {
    const d = synReceived();
    const t0 = d.now;
    const r1 = d.expect({ flags: SYN | ACK, seq: 0, ack: 1 }, 1100);
    assertEquals(Math.round(r1.at - t0), 1000);
    const r2 = d.expect({ flags: SYN | ACK, seq: 0, ack: 1 }, 2100);
    assertEquals(Math.round(r2.at - r1.at), 2000);
  });

  test("SYN-RECEIVED: the peer's SYN again is unacceptable, ACKed <SEQ=SND.NXT><ACK=RCV.NXT>; the SYN|ACK follows at the RTO (RFC 9293 3.10.7.4 first)", () => {
    const d = synReceived();
    const t0 = d.now;
    d.send({ flags: SYN, seq: 0, mss: 1460 });
    d.expect({ flags: ACK, seq: 1, ack: 1 });
    assertEquals(d.state(), "SYN-RECEIVED");
    const r = d.expect({ flags: SYN | ACK, seq: 0, ack: 1 }, 1100);
    assertEquals(Math.round(r.at - t0), 1000);
  });

  test("SYN-RECEIVED: the peer's SYN again moves TS.Recent to its TSval; the ACK and the SYN|ACK echo it (RFC 7323 4.3)", () => {
    const d = synReceived({ peer: { timestamps: true } });
    d.run(900); // the peer's SYN timer runs out before ours: its SYN comes again
    const tsval = d.tsB();
    d.send({ flags: SYN, seq: 0, mss: 1460, ts: [tsval, 0] });
    const a = d.expect({ flags: ACK, seq: 1, ack: 1 });
    assertEquals(a.ts?.[1], tsval, "the ACK echoes the second SYN");
    // Echoing the first SYN would have the peer time 900 ms and more as its first RTT sample.
    const s = d.expect({ flags: SYN | ACK, seq: 0, ack: 1 }, 200);
    assertEquals(s.ts?.[1], tsval, "the SYN|ACK at the RTO echoes the second SYN");
  });

  test("a SYN from another port gets a connection of its own (RFC 9293 3.10.7.2)", () => {
    const d = synReceived();
    d.send({ flags: SYN, seq: 500, mss: 1460, srcPort: portB + 1 });
    const s = d.expect({ flags: SYN | ACK, ack: 501, dstPort: portB + 1 });
    assertEquals(s.srcPort, 80);
    assertEquals(d.tcp.connections, 2);
  });
});
