// TIME-WAIT as a small record (RFC 9293 3.3.2, 3.10.7.4; RFC 6191; RFC 5961):
// the control block goes, the record answers for the tuple until 2 MSL is over.
import { assert, assertEquals } from "@std/assert";
import { tcpDefaults } from "../src/tcp/config.ts";
import type { TcpContext } from "../src/tcp/context.ts";
import { TcpCounters } from "../src/tcp/counters.ts";
import { Segment } from "../src/tcp/segment.ts";
import { State } from "../src/tcp/state.ts";
import type { Tcb } from "../src/tcp/tcb.ts";
import { TimeWaitTable } from "../src/tcp/time_wait.ts";
import { TcpFlags, TcpRepr } from "../src/wire/mod.ts";
import { ACK, FIN, RST, SYN, timeWait } from "./tcp_dialogue.ts";
import { describe, test } from "./harness.ts";
import { addrB } from "./sim.ts";
import { tcpHosts } from "./tcp_sim.ts";

describe("TIME-WAIT records", () => {
  test("entering TIME-WAIT gives the control block up: no connection object, the tuple held by a record", () => {
    const d = timeWait();
    const old = d.tcb!;
    assert(old.dead, "the control block left the table");
    assertEquals([...d.tcp.each()].length, 0, "no control block in the table");
    assertEquals(d.tcp.timeWaitCount, 1);
    assertEquals(d.tcp.connections, 1, "TIME-WAIT still counts as a connection");
    assertEquals(d.tcp.stateOf(old.remoteIp, old.remotePort, old.localPort), State.timeWait);
    assertEquals(old.sendq.bytes + old.recvq.bytes, 0, "its queues are released");
    assertEquals(old.reasm, undefined);
  });

  test("a SYN reusing the tuple after the record replaced the control block opens a new connection (RFC 6191 2, RFC 1122 4.2.2.13)", () => {
    const d = timeWait({ peer: { timestamps: true } });
    const old = d.tcb!;
    d.conn = undefined;
    d.run(1000);
    d.send({ flags: SYN, seq: 1_000_000, mss: 1460, ts: [d.tsB(), 0] });
    d.expect({ flags: SYN | ACK, ack: 1_000_001 });
    assertEquals(d.tcp.timeWaitCount, 0, "the record is gone");
    const fresh = d.tcb!;
    assert(fresh !== old && !fresh.dead);
    assertEquals(d.state(), "SYN-RECEIVED");
    assertEquals(d.tcp.counters.timeWaitReused, 1);
  });

  test("an RST outside the window draws one challenge ACK, paced; an RST at RCV.NXT ends the record (RFC 5961 3.2)", () => {
    const d = timeWait();
    d.send({ flags: RST, seq: 50 });
    d.expect({ flags: ACK, seq: 2, ack: 2 });
    d.send({ flags: RST, seq: 51 });
    d.recvNothing(10);
    assertEquals(d.tcp.counters.challengeAcksSuppressed, 1);
    assertEquals(d.state(), "TIME-WAIT");
    d.send({ flags: RST, seq: 2 });
    d.recvNothing(10);
    assertEquals(d.state(), "CLOSED");
    assertEquals(d.tcp.connections, 0);
  });

  test("text after the FIN is ignored (RFC 9293 3.10.7.4 seventh), an old segment draws an ACK, a retransmitted FIN restarts the 2 MSL", () => {
    const d = timeWait();
    d.send({ flags: ACK, seq: 2, ack: 2, payload: 10 });
    d.recvNothing(10);
    d.send({ flags: ACK, seq: 1, ack: 2, payload: 1 });
    d.expect({ flags: ACK, seq: 2, ack: 2 });
    d.run(50_000);
    d.send({ flags: FIN | ACK, seq: 1, ack: 2 });
    d.expect({ flags: ACK, seq: 2, ack: 2 });
    d.recvNothing(59_000);
    assertEquals(d.state(), "TIME-WAIT");
    d.recvNothing(2000);
    assertEquals(d.state(), "CLOSED");
  });

  test("2000 connections closed first by one side: each TIME-WAIT costs at most 128 bytes, and all expire", () => {
    const { ta, tb, clock } = tcpHosts({ tcp: { ephemeralPortMin: 20000, ephemeralPortMax: 30000 } });
    tb.listen(80, () => ({ onEnd: (c) => tb.close(c, clock.now) }));
    let closed = 0;
    const n = 2000;
    const conns: Tcb[] = [];
    for (let i = 0; i < n; i++) {
      conns.push(
        ta.connect(addrB, 80, { onOpen: (t) => ta.close(t, clock.now), onClose: () => closed++ }, clock.now),
      );
      if (i % 100 === 99) clock.runUntil(() => closed === i + 1, 10_000);
    }
    clock.runUntil(() => closed === n, 10_000);
    assertEquals(ta.timeWaitCount, n);
    assertEquals([...ta.each()].length, 0, "no control block is left on the side that closed first");
    assert(conns.every((t) => ta.stateOf(t.remoteIp, t.remotePort, t.localPort) === State.timeWait));
    const perConn = ta.timeWaitBytes / ta.timeWaitCount;
    assert(perConn <= 128, `bytes per TIME-WAIT record: ${perConn.toFixed(1)}`);
    clock.run(61_000);
    assertEquals(ta.timeWaitCount, 0);
    assertEquals(ta.connections + tb.connections, 0);
    assertEquals(ta.pollAt(), Infinity, "no timer left");
  });
});

describe("TIME-WAIT after a crowd", () => {
  test("5000 connections closed first by the server: at most 128 bytes each in the layer's tables once the live ones are gone; the per-id arrays shrink, ids are reused smallest first", () => {
    const { ta, tb, clock } = tcpHosts({ tcp: { ephemeralPortMin: 20000, ephemeralPortMax: 30000 } });
    const accepted: Tcb[] = [];
    tb.listen(80, (t) => void accepted.push(t));
    let closed = 0;
    const client = { onEnd: (c: Tcb) => ta.close(c, clock.now), onClose: () => closed++ };
    const n = 5000;
    for (let i = 0; i < n; i++) {
      ta.connect(addrB, 80, client, clock.now);
      if (i % 100 === 99) clock.runUntil(() => accepted.length === i + 1, 10_000);
    }
    assertEquals(accepted.map((t) => t.id), [...Array(n).keys()], "ids 0 .. n-1, smallest first");
    const crowd = tb.footprint();
    assertEquals(crowd.idCapacity, 8192);
    // The server closes first on all of them; the client answers each FIN with its own.
    for (const t of accepted) tb.close(t, clock.now);
    clock.runUntil(() => closed === n && tb.timeWaitCount === n, 10_000);
    assertEquals([...tb.each()].length, 0, "no control block left on the server");
    assert(accepted.every((t) => tb.stateOf(t.remoteIp, t.remotePort, t.localPort) === State.timeWait));
    const f = tb.footprint();
    assertEquals(f.idCapacity, 256, "the per-id arrays went back to their least size");
    assertEquals(f.tcbSlots, 0);
    assert(
      f.timers < crowd.timers - (8192 - 256) * 28 + 1,
      `timer wheel: ${crowd.timers} -> ${f.timers} bytes`,
    );
    assertEquals(f.timeWait, tb.timeWaitBytes);
    const perConn = f.total / tb.timeWaitCount;
    assert(
      perConn <= 128,
      `bytes per TIME-WAIT connection, all tables: ${perConn.toFixed(1)} (${JSON.stringify(f)})`,
    );
    // With the crowd's per-id arrays kept, the same records would cost more than the goal.
    const kept = (f.total - f.ids - f.timers - f.tcbSlots + crowd.ids + crowd.timers + crowd.tcbSlots) / n;
    assert(kept > 128, `the crowd's arrays kept: ${kept.toFixed(1)} bytes each`);
    // New connections take the smallest ids again.
    const again: Tcb[] = [];
    tb.unlisten(80);
    tb.listen(81, (t) => void again.push(t));
    for (let i = 0; i < 3; i++) ta.connect(addrB, 81, {}, clock.now);
    clock.runUntil(() => again.length === 3, 10_000);
    assertEquals(again.map((t) => t.id), [0, 1, 2]);
    assertEquals(tb.footprint().idCapacity, 256);
  });
});

describe("TIME-WAIT record ring", () => {
  /** A table over a context that records what it sends, and a fake connection entering TIME-WAIT. */
  function ring() {
    const sent: { dst: number; seq: number; ack: number; flags: number }[] = [];
    const repr = new TcpRepr();
    const x = {
      config: { ...tcpDefaults },
      counters: new TcpCounters(),
      out: {
        repr,
        sendRaw: (dst: number) => sent.push({ dst, seq: repr.seq, ack: repr.ack, flags: repr.flags }),
      },
    } as unknown as TcpContext;
    const tw = new TimeWaitTable(x);
    const enter = (port: number, now: number) =>
      tw.enter({
        remoteIp: 0xc6120001,
        localPort: 80,
        remotePort: port,
        sndMax: 1000 + port,
        rcvNxt: 5000 + port,
        rcvAdv: 5000 + port + 65535,
        maxSndWnd: 65535,
        tsRecent: 0,
        tsOk: false,
        rcvScale: 0,
        lastRecvAt: now,
        lastOowAckAt: -Infinity,
        ackNow: false,
      } as unknown as Tcb, now);
    const fin = (port: number) => {
      const seg = new Segment();
      seg.srcIp = 0xc6120001;
      seg.srcPort = port;
      seg.dstPort = 80;
      seg.seq = 5000 + port - 1; // the FIN again: one below RCV.NXT
      seg.ack = 1000 + port;
      seg.flags = TcpFlags.fin | TcpFlags.ack;
      return seg;
    };
    return { tw, enter, fin, sent };
  }

  test("a retransmitted FIN restarts a record while the ring is full: it grows, every record keeps its tuple", () => {
    const { tw, enter, fin, sent } = ring();
    for (let p = 1; p <= 8; p++) enter(30000 + p, 0);
    tw.expire(60_000); // the ring's head moves on: the next records wrap around its end
    assertEquals(tw.size, 0);
    for (let p = 1; p <= 64; p++) enter(40000 + p, 60_000); // every slot taken
    tw.input(tw.find(0xc6120001, 40010, 80), fin(40010), 90_000);
    assertEquals(sent.length, 1, "the FIN is ACKed");
    assertEquals(sent[0].ack, 5000 + 40010);
    assertEquals(tw.size, 64);
    for (let p = 1; p <= 64; p++) assert(tw.find(0xc6120001, 40000 + p, 80) >= 0, `record ${p}`);
    tw.input(tw.find(0xc6120001, 40020, 80), fin(40020), 90_000);
    assertEquals(sent[1].ack, 5000 + 40020, "each record still answers with its own numbers");
    tw.expire(120_000);
    assertEquals(tw.size, 2, "the others expire at 2 MSL");
    assert(tw.find(0xc6120001, 40010, 80) >= 0, "the restarted ones last 2 MSL from their FIN");
    assertEquals(tw.pollAt(), 150_000);
    tw.expire(150_000);
    assertEquals(tw.size, 0);
    assertEquals(tw.pollAt(), Infinity);
  });

  test("records ended early leave holes: a full ring closes up in place instead of growing, and every live record keeps its tuple and numbers", () => {
    const { tw, enter, fin, sent } = ring();
    const bytes0 = tw.bytes;
    // A tuple-reusing connection rate: each record ends (its tuple reopened) soon after it came.
    let next = 1;
    const live: number[] = [];
    for (let round = 0; round < 20; round++) {
      for (let k = 0; k < 40; k++) {
        enter(20000 + next, 1000);
        live.push(20000 + next++);
      }
      while (live.length > 24) tw.remove(tw.find(0xc6120001, live.shift()!, 80));
    }
    assertEquals(tw.size, 24);
    assert(tw.bytes <= 2 * bytes0, `the ring stayed small: ${tw.bytes} bytes against ${bytes0} at the start`);
    for (const p of live) assert(tw.find(0xc6120001, p, 80) >= 0, `record ${p}`);
    // A retransmitted FIN restarting a record while the ring closes up: it keeps its numbers.
    while (tw.size < 40) {
      enter(20000 + next, 1000);
      live.push(20000 + next++);
    }
    for (const p of live) tw.input(tw.find(0xc6120001, p, 80), fin(p), 2000);
    assertEquals(
      sent.map((s) => s.ack),
      live.map((p) => 5000 + p),
      "each record answers with its own numbers",
    );
    assertEquals(sent.map((s) => s.seq), live.map((p) => 1000 + p));
    assertEquals(tw.size, live.length);
    tw.expire(61_000);
    assertEquals(tw.size, live.length, "restarted at 2000: they last until 62000");
    tw.expire(62_000);
    assertEquals(tw.size, 0);
  });
});
