// Timestamps on a path that reorders, segment by segment: which segment TS.Recent follows (RFC 7323
// 4.3), what PAWS rejects and how the rejection is answered (RFC 7323 5.3, 5.5), and the ACK that
// unacceptable segments draw (RFC 9293 3.10.7.4, RFC 2883 4).
import { assertEquals } from "@std/assert";
import { describe, test } from "./harness.ts";
import { ACK, established, FIN, RST, timeWait } from "./tcp_dialogue.ts";

const small = { rcvBufBytes: 65535 };

describe("RFC 7323 timestamps and PAWS under reordering", () => {
  test("reordering: a segment overtaken by later ones with later TSvals is accepted (RFC 7323 4.3)", () => {
    const d = established({ peer: { timestamps: true }, tcp: small });
    const ts = d.tsB() + 100;
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 100, ts: [ts, d.lastTsA] });
    d.expect({ ack: 101 }, 50);
    // 101 was sent at ts + 1, 201 and 301 after it; the path delivers 101 last.
    d.send({ flags: ACK, seq: 201, ack: 1, payload: 100, ts: [ts + 2, d.lastTsA] });
    assertEquals(d.expect({ flags: ACK, ack: 101 }).ts?.[1], ts, "ahead of the hole: TS.Recent stays");
    d.send({ flags: ACK, seq: 301, ack: 1, payload: 100, ts: [ts + 3, d.lastTsA] });
    assertEquals(d.expect({ flags: ACK, ack: 101 }).ts?.[1], ts);
    d.send({ flags: ACK, seq: 101, ack: 1, payload: 100, ts: [ts + 1, d.lastTsA] });
    const s = d.expect({ flags: ACK, ack: 401 });
    assertEquals(s.ts?.[1], ts + 1, "the segment that filled the hole set TS.Recent");
    assertEquals(d.received.length, 400);
    assertEquals(d.tcp.counters.pawsDrops, 0);
  });

  test("reordering: data sent a tick before the retransmission that filled its hole is accepted", () => {
    // 101..401 were sent at ts; 101 was lost, 201 arrived, 301 is late on the path. The
    // retransmission of 101 (ts + 1) fills the hole and sets TS.Recent; 301 then arrives with a
    // TSval one tick older. RFC 7323 5.3 would drop it; like Linux (TCP_PAWS_WINDOW), one tick passes.
    const d = established({ peer: { timestamps: true, sackPermitted: true }, tcp: small });
    const ts = d.tsB() + 100;
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 100, ts: [ts, d.lastTsA] });
    d.expect({ ack: 101 }, 50);
    d.send({ flags: ACK, seq: 201, ack: 1, payload: 100, ts: [ts, d.lastTsA] });
    d.expect({ flags: ACK, ack: 101, sack: [[201, 301]] });
    d.send({ flags: ACK, seq: 101, ack: 1, payload: 100, ts: [ts + 1, d.lastTsA] });
    assertEquals(d.expect({ flags: ACK, ack: 301 }).ts?.[1], ts + 1);
    d.send({ flags: ACK, seq: 301, ack: 1, payload: 100, ts: [ts, d.lastTsA] });
    const s = d.expect({ flags: ACK, ack: 401 }, 50);
    assertEquals(s.ts?.[1], ts + 1, "an older TSval never moves TS.Recent back");
    assertEquals(d.received.length, 400);
    assertEquals(d.tcp.counters.pawsDrops, 0);
  });

  test("PAWS: a truly old duplicate is dropped with an ACK that reports it as a D-SACK (RFC 7323 5.3, RFC 2883 4)", () => {
    const d = established({ peer: { timestamps: true, sackPermitted: true }, tcp: small });
    const ts = d.tsB() + 100;
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 200, ts: [ts, d.lastTsA] });
    d.expect({ ack: 201 }, 50);
    d.send({ flags: ACK, seq: 101, ack: 1, payload: 100, ts: [ts - 2, d.lastTsA] });
    const s = d.expect({ flags: ACK, ack: 201, sack: [[101, 201]] });
    assertEquals(s.ts?.[1], ts, "the rejected segment's TSval is not echoed");
    assertEquals(d.tcp.counters.pawsDrops, 1);
    assertEquals(d.received.length, 200);
  });

  test("PAWS: new data with a TSval older than TS.Recent by more than a tick is dropped with an ACK (RFC 7323 5.3 R1)", () => {
    const d = established({ peer: { timestamps: true }, tcp: small });
    const ts = d.tsB() + 100;
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 100, ts: [ts, d.lastTsA] });
    d.expect({ ack: 101 }, 50);
    d.send({ flags: ACK, seq: 101, ack: 1, payload: 100, ts: [ts - 2, d.lastTsA] });
    const s = d.expect({ flags: ACK, ack: 101, sack: [] });
    assertEquals(s.ts?.[1], ts);
    assertEquals(d.received.length, 100, "the old segment's data was not taken");
    assertEquals(d.tcp.counters.pawsDrops, 1);
    d.recvNothing(100);
  });

  test("TIME-WAIT: a TSval one tick older than TS.Recent passes PAWS as in ESTABLISHED, two ticks do not (RFC 7323 5.3)", () => {
    const d = timeWait({ peer: { timestamps: true }, tcp: small });
    const ts = d.tsB() + 100;
    d.send({ flags: ACK, seq: 2, ack: 2, ts: [ts, d.lastTsA] }); // sets TS.Recent (RFC 7323 4.3)
    d.recvNothing(10);
    // The peer's FIN again (our ACK of it was lost), reordered behind that ACK by a tick: taken,
    // it restarts the 2 MSL and is ACKed (RFC 9293 3.10.7.4).
    d.send({ flags: FIN | ACK, seq: 1, ack: 2, ts: [ts - 1, d.lastTsA] });
    assertEquals(d.expect({ flags: ACK, seq: 2, ack: 2 }).ts?.[1], ts);
    assertEquals(d.tcp.counters.pawsDrops, 0);
    // Two ticks older: dropped by PAWS, and answered with an ACK (R1).
    d.send({ flags: FIN | ACK, seq: 1, ack: 2, ts: [ts - 2, d.lastTsA] });
    assertEquals(d.expect({ flags: ACK, seq: 2, ack: 2 }).ts?.[1], ts);
    assertEquals(d.tcp.counters.pawsDrops, 1);
    assertEquals(d.state(), "TIME-WAIT");
  });

  test("PAWS: an equal TSval is not old (RFC 7323 5.3 R1: only SEG.TSval < TS.Recent fails)", () => {
    const d = established({ peer: { timestamps: true }, tcp: small });
    const ts = d.tsB() + 100;
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 100, ts: [ts, d.lastTsA] });
    d.expect({ ack: 101 }, 50);
    d.send({ flags: ACK, seq: 101, ack: 1, payload: 100, ts: [ts, d.lastTsA] });
    d.expect({ flags: ACK, ack: 201 }, 50);
    assertEquals(d.received.length, 200);
    assertEquals(d.tcp.counters.pawsDrops, 0);
  });

  test("PAWS: TSvals compare on the 32-bit serial difference, across the clock's wrap (RFC 7323 5.2)", () => {
    const d = established({ peer: { timestamps: true }, tcp: small });
    // Three steps of 0x70000000 ticks, each later by the serial compare, wrap the 32-bit clock.
    let ts = d.tsB();
    for (let i = 0; i < 3; i++) {
      ts = (ts + 0x7000_0000) >>> 0;
      d.send({ flags: ACK, seq: 1 + 100 * i, ack: 1, payload: 100, ts: [ts, d.lastTsA] });
      assertEquals(d.expect({ flags: ACK, ack: 101 + 100 * i }, 50).ts?.[1], ts);
    }
    assertEquals(ts < 0x7000_0000, true, "the clock wrapped");
    d.send({ flags: ACK, seq: 301, ack: 1, payload: 100, ts: [(ts - 2) >>> 0, d.lastTsA] }); // older
    d.expect({ flags: ACK, ack: 301 });
    assertEquals(d.tcp.counters.pawsDrops, 1);
  });

  test("PAWS: a RST with an old TSval still resets (RFC 7323 5.3 R1)", () => {
    const d = established({ peer: { timestamps: true }, tcp: small });
    const ts = d.tsB() + 100;
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 100, ts: [ts, d.lastTsA] });
    d.expect({ ack: 101 }, 50);
    d.send({ flags: RST, seq: 101, ts: [ts - 1000, 0] });
    d.recvNothing(10);
    assertEquals(d.state(), "CLOSED");
    assertEquals(d.tcp.counters.pawsDrops, 0);
  });

  test("PAWS: after 24 days idle TS.Recent is no longer valid and an old TSval passes (RFC 7323 5.5)", () => {
    const d = established({ peer: { timestamps: true }, tcp: small });
    const ts = d.tsB() + 100;
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 100, ts: [ts, d.lastTsA] });
    d.expect({ ack: 101 }, 50);
    d.tcb!.tsRecentAge = d.now - 24 * 24 * 3600 * 1000 - 1; // as if the connection idled that long
    d.send({ flags: ACK, seq: 101, ack: 1, payload: 100, ts: [ts - 1000, d.lastTsA] });
    assertEquals(d.expect({ flags: ACK, ack: 201 }, 50).ts?.[1], ts - 1000);
    assertEquals(d.tcp.counters.pawsDrops, 0);
  });

  test("PAWS: old bare ACKs draw one ACK per interval, not one each (RFC 5961 7)", () => {
    const d = established({ peer: { timestamps: true }, tcp: small });
    const ts = d.tsB() + 100;
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 100, ts: [ts, d.lastTsA] });
    d.expect({ ack: 101 }, 50);
    d.send({ flags: ACK, seq: 101, ack: 1, ts: [ts - 5, d.lastTsA] });
    d.expect({ flags: ACK, ack: 101, len: 0 });
    d.send({ flags: ACK, seq: 101, ack: 1, ts: [ts - 5, d.lastTsA] });
    d.recvNothing(10);
    assertEquals(d.tcp.counters.pawsDrops, 2);
  });
});

describe("RFC 9293 3.10.7.4: the ACK unacceptable segments draw", () => {
  test("with SACK, a burst of duplicates draws one ACK, at the burst's end, with their D-SACK (RFC 2883 4)", () => {
    const d = established({ peer: { timestamps: true, sackPermitted: true }, tcp: small });
    const ts = d.tsB() + 100;
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 300, ts: [ts, d.lastTsA] });
    d.expect({ ack: 301 }, 50);
    // The sender repeats what arrived (a spurious timeout): three segments in one burst.
    d.sendBurst([1, 101, 201].map((seq) => ({
      flags: ACK,
      seq,
      ack: 1,
      payload: 100,
      ts: [ts + 1, d.lastTsA] as const,
    })));
    d.expect({ flags: ACK, ack: 301, sack: [[1, 301]] });
    d.recvNothing(10);
    assertEquals(d.received.length, 300);
  });

  test("with SACK, duplicates apart in one burst each have their D-SACK reported (RFC 2883 4)", () => {
    const d = established({ peer: { timestamps: true, sackPermitted: true }, tcp: small });
    const ts = d.tsB() + 100;
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 300, ts: [ts, d.lastTsA] });
    d.expect({ ack: 301 }, 50);
    d.sendBurst(
      [1, 201].map((seq) => ({ flags: ACK, seq, ack: 1, payload: 100, ts: [ts + 1, d.lastTsA] as const })),
    );
    d.expect({ flags: ACK, ack: 301, sack: [[1, 101]] });
    d.expect({ flags: ACK, ack: 301, sack: [[201, 301]] });
    d.recvNothing(10);
  });

  test("without SACK, each duplicate is answered at once", () => {
    const d = established({ peer: { timestamps: true }, tcp: small });
    const ts = d.tsB() + 100;
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 200, ts: [ts, d.lastTsA] });
    d.expect({ ack: 201 }, 50);
    d.sendBurst(
      [1, 101].map((seq) => ({ flags: ACK, seq, ack: 1, payload: 100, ts: [ts + 1, d.lastTsA] as const })),
    );
    d.expect({ flags: ACK, ack: 201 });
    d.expect({ flags: ACK, ack: 201 });
    d.recvNothing(10);
  });
});
