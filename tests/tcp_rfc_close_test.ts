// Closing a connection, segment by segment: FIN-WAIT-1, FIN-WAIT-2,
// CLOSE-WAIT, CLOSING, LAST-ACK, TIME-WAIT and ABORT (RFC 9293 3.6, 3.10.4,
// 3.10.5, 3.10.7.4; RFC 6191 and RFC 1122 4.2.2.13 for TIME-WAIT reuse).
import { assert, assertEquals } from "@std/assert";
import { seqGt } from "../src/wire/mod.ts";
import { describe, test } from "./harness.ts";
import {
  ACK,
  closeWait,
  closing,
  established,
  FIN,
  finWait1,
  finWait2,
  lastAck,
  pattern,
  PSH,
  RST,
  SYN,
  synSent,
  timeWait,
} from "./tcp_dialogue.ts";

describe("RFC 9293 close", () => {
  test("FIN in ESTABLISHED goes to CLOSE-WAIT and is ACKed at once (RFC 9293 3.10.7.4 eighth)", () => {
    const d = established();
    d.send({ flags: FIN | ACK, seq: 1, ack: 1 });
    d.expect({ flags: ACK, seq: 1, ack: 2 });
    assertEquals(d.state(), "CLOSE-WAIT");
    assertEquals(d.events, ["open", "end"]);
  });

  test("a FIN ahead of missing data waits for it (RFC 9293 3.10.7.4 eighth)", () => {
    const d = established({ tcp: { rcvBufBytes: 65535 } }); // reading grows no window: no update ACKs
    d.send({ flags: FIN | ACK, seq: 501, ack: 1, payload: 500 });
    d.expect({ flags: ACK, seq: 1, ack: 1 });
    assertEquals(d.state(), "ESTABLISHED");
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 500 });
    d.expect({ flags: ACK, seq: 1, ack: 1002 });
    assertEquals(d.state(), "CLOSE-WAIT");
    assertEquals(d.received, Array.from(pattern(1000, 1)));
    assertEquals(d.events, ["open", "end"]);
  });

  test("close in CLOSE-WAIT sends FIN, LAST-ACK; the ACK of the FIN closes (RFC 9293 3.10.4, 3.10.7.4)", () => {
    const d = lastAck();
    d.send({ flags: ACK, seq: 2, ack: 2 });
    d.recvNothing(10);
    assertEquals(d.state(), "CLOSED");
    assertEquals(d.tcp.connections, 0);
    assertEquals(d.events, ["open", "end", "close"]);
  });

  test("CLOSE-WAIT: A still sends, and a retransmitted FIN is ACKed (RFC 9293 3.10.7.4)", () => {
    const d = closeWait();
    d.write(100);
    d.expect({ flags: ACK | PSH, seq: 1, ack: 2, len: 100 });
    d.send({ flags: FIN | ACK, seq: 1, ack: 101 });
    d.expect({ flags: ACK, seq: 101, ack: 2 });
    assertEquals(d.state(), "CLOSE-WAIT");
  });

  test("LAST-ACK: the FIN is retransmitted after the RTO (RFC 6298 5.4, RFC 9293 3.8.1)", () => {
    const d = lastAck();
    const t0 = d.now;
    const s = d.expect({ flags: FIN | ACK, seq: 1, ack: 2 }, 300);
    assertEquals(Math.round(s.at - t0), 200);
  });

  test("close in ESTABLISHED sends the FIN after the queued data, on the last segment (RFC 9293 3.10.4)", () => {
    const d = established();
    d.write(100);
    d.expect({ flags: ACK | PSH, seq: 1, len: 100 });
    d.write(50);
    d.close(); // the last segment goes at once with the FIN, Nagle or not (as Linux's tcp_send_fin)
    d.expect({ flags: FIN | PSH | ACK, seq: 101, ack: 1, len: 50 });
    assertEquals(d.state(), "FIN-WAIT-1");
    d.send({ flags: ACK, seq: 1, ack: 152 });
    assertEquals(d.state(), "FIN-WAIT-2");
  });

  test("FIN-WAIT-1: the ACK of our FIN goes to FIN-WAIT-2, the peer's FIN to TIME-WAIT (RFC 9293 3.10.7.4)", () => {
    const d = finWait1();
    d.send({ flags: ACK, seq: 1, ack: 2 });
    d.recvNothing(10);
    assertEquals(d.state(), "FIN-WAIT-2");
    d.send({ flags: FIN | ACK, seq: 1, ack: 2 });
    d.expect({ flags: ACK, seq: 2, ack: 2 });
    assertEquals(d.state(), "TIME-WAIT");
    assertEquals(d.events, ["open", "end", "close"]);
  });

  test("FIN-WAIT-1: a FIN that also ACKs ours goes straight to TIME-WAIT (RFC 9293 3.10.7.4 eighth)", () => {
    const d = finWait1();
    d.send({ flags: FIN | ACK, seq: 1, ack: 2 });
    d.expect({ flags: ACK, seq: 2, ack: 2 });
    assertEquals(d.state(), "TIME-WAIT");
  });

  test("simultaneous close goes through CLOSING to TIME-WAIT (RFC 9293 3.6 figure 13)", () => {
    const d = closing();
    d.send({ flags: ACK, seq: 2, ack: 2 });
    d.recvNothing(10);
    assertEquals(d.state(), "TIME-WAIT");
  });

  test("half-close: after our FIN we still receive data (FIN-WAIT-1, FIN-WAIT-2) (RFC 9293 3.10.7.4 seventh)", () => {
    const d = finWait1();
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 100 }); // does not ACK our FIN yet
    d.expect({ flags: ACK, seq: 2, ack: 101 }, 50);
    assertEquals(d.state(), "FIN-WAIT-1");
    d.send({ flags: ACK, seq: 101, ack: 2, payload: 100 });
    d.expect({ flags: ACK, seq: 2, ack: 201 }, 50);
    assertEquals(d.state(), "FIN-WAIT-2");
    d.send({ flags: FIN | ACK, seq: 201, ack: 2 });
    d.expect({ flags: ACK, seq: 2, ack: 202 });
    assertEquals(d.state(), "TIME-WAIT");
    assertEquals(d.received, Array.from(pattern(200, 1)));
  });

  test("TIME-WAIT lasts 2 MSL, then the tuple is free (RFC 9293 3.3.2, 3.10.7.4)", () => {
    const d = timeWait();
    d.recvNothing(59_900);
    assertEquals(d.state(), "TIME-WAIT");
    d.recvNothing(200);
    assertEquals(d.state(), "CLOSED");
    assertEquals(d.tcp.connections, 0);
    d.send({ flags: ACK, seq: 2, ack: 2 }); // the listener has no connection for it now
    d.expect({ flags: RST, seq: 2 });
  });

  test("TIME-WAIT: a retransmitted FIN is ACKed and restarts the 2 MSL timer (RFC 9293 3.10.7.4 eighth)", () => {
    const d = timeWait();
    d.run(30_000);
    d.send({ flags: FIN | ACK, seq: 1, ack: 2 });
    d.expect({ flags: ACK, seq: 2, ack: 2 });
    d.recvNothing(59_900);
    assertEquals(d.state(), "TIME-WAIT", "90 s after entering, 60 s after the FIN");
    d.recvNothing(200);
    assertEquals(d.state(), "CLOSED");
  });

  test("TIME-WAIT reuse by a SYN with a newer timestamp (RFC 6191 2)", () => {
    const d = timeWait({ peer: { timestamps: true } });
    const old = d.tcb!;
    d.conn = undefined;
    d.run(1000);
    d.send({ flags: SYN, seq: 100, mss: 1460, ts: [d.tsB(), 0] }); // an old SEQ: only the timestamp is newer
    d.expect({ flags: SYN | ACK, ack: 101 });
    assertEquals(d.tcp.counters.timeWaitReused, 1);
    assert(old.dead);
    assertEquals(d.state(), "SYN-RECEIVED");
  });

  test("TIME-WAIT: a SYN with an older timestamp is not a new connection: ACKed and dropped (RFC 6191 2, RFC 7323 5.3)", () => {
    const d = timeWait({ peer: { timestamps: true } });
    d.send({ flags: SYN, seq: 100_000, mss: 1460, ts: [d.tsB() - 5000, 0] });
    d.expect({ flags: ACK, seq: 2, ack: 2 });
    assertEquals(d.state(), "TIME-WAIT");
    assertEquals(d.tcp.counters.timeWaitReused, 0);
  });

  test("TIME-WAIT reuse without timestamps: a SYN above RCV.NXT reopens, with an ISS above the old SND.NXT (RFC 1122 4.2.2.13)", () => {
    const d = timeWait();
    const oldSndMax = d.tcb!.sndMax;
    d.conn = undefined;
    d.run(1000);
    d.send({ flags: SYN, seq: 100_000, mss: 1460 });
    const s = d.expect({ flags: SYN | ACK, ack: 100_001 });
    assert(
      seqGt(s.rawSeq, oldSndMax),
      "the new ISS is larger than any sequence number of the old incarnation",
    );
    assertEquals(d.state(), "SYN-RECEIVED");
  });

  test("abort sends RST <SEQ=SND.NXT> and drops the connection (RFC 9293 3.10.5)", () => {
    const d = established();
    d.write(100);
    d.expect({ flags: ACK | PSH, seq: 1, len: 100 });
    d.abort();
    d.expect({ flags: RST | ACK, seq: 101, ack: 1 });
    assertEquals(d.state(), "CLOSED");
    assertEquals(d.events, ["open", "close: aborted"]);
    d.recvNothing(5000); // nothing is retransmitted
  });

  test("close and abort in SYN-SENT delete the TCB and send nothing (RFC 9293 3.10.4, 3.10.5)", () => {
    for (const how of ["close", "abort"] as const) {
      const d = synSent();
      if (how === "close") d.close();
      else d.abort();
      d.recvNothing(5000);
      assertEquals(d.state(), "CLOSED", how);
      assertEquals(d.tcp.connections, 0, how);
    }
  });

  test("RST at RCV.NXT closes CLOSE-WAIT, FIN-WAIT-1/2, CLOSING, LAST-ACK and TIME-WAIT (RFC 9293 3.10.7.4 second)", () => {
    for (
      const [fixture, rcvNxt] of [[closeWait, 2], [finWait1, 1], [finWait2, 1], [closing, 2], [lastAck, 2], [
        timeWait,
        2,
      ]] as const
    ) {
      const d = fixture();
      const name = d.state();
      d.send({ flags: RST, seq: rcvNxt });
      d.recvNothing(5000);
      assertEquals(d.state(), "CLOSED", name);
      assertEquals(d.tcp.connections, 0, name);
    }
  });
});
