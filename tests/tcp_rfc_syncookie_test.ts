// SYN cookies, segment by segment: a listener whose backlog is full answers
// SYNs without keeping state, and the handshake's final ACK rebuilds the
// connection from the cookie (RFC 4987 3.6; the layout is Linux's).
import { assert, assertEquals } from "@std/assert";
import { describe, test } from "./harness.ts";
import {
  ACK,
  checkSeg,
  type Dialogue,
  listening,
  pattern,
  portB,
  PSH,
  RST,
  type Seg,
  SYN,
} from "./tcp_dialogue.ts";

const port = portB + 1;

/** B's SYN from `port`; returns A's SYN|ACK, numbering A's side from its cookie. */
function cookieSynAck(d: Dialogue, o: { mss?: number; ws?: number; sack?: boolean; ts?: boolean } = {}): Seg {
  d.send({
    flags: SYN,
    seq: 0,
    srcPort: port,
    mss: o.mss ?? 1460,
    ws: o.ws ?? -1,
    sackPermitted: o.sack ?? false,
    ts: o.ts ? [d.tsB(), 0] : false,
  });
  const s = d.recv();
  d.issA = s.rawSeq;
  d.lastTsA = s.ts?.[0] ?? 0;
  return { ...s, seq: 0 };
}

describe("SYN cookies (RFC 4987 3.6)", () => {
  test("SYN cookies: with the backlog full, SYN|ACK carries a cookie and the final ACK creates the connection", () => {
    const d = listening({ backlog: 1 });
    d.send({ flags: SYN, seq: 0, mss: 1460 }); // fills the backlog: SYN-RECEIVED
    d.expect({ flags: SYN | ACK, ack: 1 });
    assertEquals(d.tcp.connections, 1);
    const tsVal = d.tsB();
    const s = cookieSynAck(d, { ws: 7, sack: true, ts: true });
    checkSeg(s, {
      flags: SYN | ACK,
      ack: 1,
      dstPort: port,
      mss: 1460,
      ws: 5,
      sackPermitted: true,
      window: 65535,
    });
    assertEquals(s.ts?.[1], tsVal, "TSecr echoes the SYN; TSval carries WS and SACK-permitted");
    assertEquals(d.tcp.connections, 1, "no state kept for it");
    assertEquals(d.tcp.counters.synCookiesSent, 1);
    d.send({ flags: ACK, seq: 1, ack: 1, srcPort: port, ts: [d.tsB(), d.lastTsA] });
    d.recvNothing(10);
    assertEquals(d.tcp.connections, 2);
    assertEquals(d.state(), "ESTABLISHED");
    assertEquals(d.events, ["open"]);
    const c = d.tcb!;
    assertEquals([c.remotePort, c.sndScale, c.rcvScale, c.sackOk, c.tsOk], [port, 7, 5, true, true]);
    d.write(100);
    d.expect({ flags: ACK | PSH, seq: 1, ack: 1, len: 100, dstPort: port });
  });

  test("SYN cookies: data on the completing ACK is delivered (RFC 9293 3.10.7.4 seventh)", () => {
    const d = listening({ backlog: 0 });
    cookieSynAck(d);
    d.send({ flags: ACK | PSH, seq: 1, ack: 1, srcPort: port, payload: 100 });
    d.expect({ flags: ACK, seq: 1, ack: 101, dstPort: port }, 50);
    assertEquals(d.received, Array.from(pattern(100, 1)));
  });

  test("SYN cookies: without timestamps only the MSS survives, rounded down to the table", () => {
    const d = listening({ backlog: 0 });
    const s = cookieSynAck(d, { mss: 1400, ws: 7, sack: true });
    assertEquals([s.mss, s.ws, s.sackPermitted, s.ts], [1460, -1, false, undefined]);
    d.send({ flags: ACK, seq: 1, ack: 1, srcPort: port });
    assertEquals(d.state(), "ESTABLISHED");
    const c = d.tcb!;
    assertEquals([c.sndScale, c.sackOk, c.tsOk], [0, false, false]);
    d.write(2760);
    d.expect({ seq: 1, len: 1380 }); // 1400 rounded down to 1380
    d.expect({ seq: 1381, len: 1380 });
  });

  test("SYN cookies: an ACK with a forged cookie elicits RST <SEQ=SEG.ACK> (RFC 9293 3.10.7.2)", () => {
    const d = listening({ backlog: 0 });
    cookieSynAck(d);
    d.send({ flags: ACK, seq: 1, ack: 2, srcPort: port }); // one off
    d.expect({ flags: RST, seq: 2, dstPort: port });
    assertEquals(d.tcp.connections, 0);
    assertEquals(d.tcp.counters.synCookiesFailed, 1);
  });

  test("SYN cookies: a cookie is good for 64 to 128 s, then refused with RST", () => {
    const d = listening({ backlog: 0 });
    cookieSynAck(d);
    d.run(70_000);
    d.send({ flags: ACK, seq: 1, ack: 1, srcPort: port });
    assertEquals(d.state(), "ESTABLISHED", "the previous counter's cookie is accepted");
    const d2 = listening({ backlog: 0 });
    cookieSynAck(d2);
    d2.run(130_000);
    d2.send({ flags: ACK, seq: 1, ack: 1, srcPort: port });
    d2.expect({ flags: RST, seq: 1 });
    assertEquals(d2.tcp.connections, 0);
  });

  test("SYN cookies off: a SYN beyond the backlog is dropped (RFC 9293 3.10.7.2)", () => {
    const d = listening({ backlog: 0, tcp: { synCookies: false } });
    d.send({ flags: SYN, seq: 0, mss: 1460, srcPort: port });
    d.recvNothing(5000);
    assertEquals(d.tcp.connections, 0);
    assertEquals(d.tcp.counters.listenDrops, 1);
    assert(d.tcp.counters.synCookiesSent === 0);
  });
});
