// TCP at a loopback-class MTU (65521, MSS 65481) over the in-memory link with
// frame chains: every segment longer than a 9 KiB buffer travels as a chain
// of buffers, as over memif. On the virtual clock, with seeded faults and a
// tap that drops chosen segments, the transfer is byte-exact, a lost segment
// goes again as exactly its range, the SACK blocks hold whole segments, a
// window smaller than a segment is obeyed, and the receive window keeps many
// connections within the receiver's buffers.
import { assert, assertEquals } from "@std/assert";
import { createHash } from "node:crypto";
import { DESC_WORDS, TxFlag } from "../src/device/mod.ts";
import type { MemoryEndpoint } from "../src/device/memory/link.ts";
import type { Tcb } from "../src/tcp/tcb.ts";
import { describe, test } from "./harness.ts";
import { addrB } from "./sim.ts";
import { Endpoint, State, tcpHosts, transfer } from "./tcp_sim.ts";
import { WrappedDevice } from "./wrapped_device.ts";

const mtu = 65521;
const mss = mtu - 40;
/** A jumbo frame's buffer, as the memif port at this MTU has: 9024 bytes after the headroom. */
const dataRoom = 9152;
const link = { mtu, frameChains: true, dataRoom };
/** Payload of a full segment: the MSS less the timestamps option. */
const full = mss - 12;

/** A TCP segment a {@link Tap} saw leave. */
interface Seen {
  seq: number;
  len: number;
  flags: number;
  /** Records (buffers) the frame spans. */
  records: number;
  /** SACK blocks, left and right edges in turn. */
  sack: number[];
}

const SYN = 0x02;
const FIN = 0x01;

/** Wraps a device and logs the TCP segments it sends; `drop` picks the ones lost on the way. */
class Tap extends WrappedDevice {
  readonly seen: Seen[] = [];
  drop: (s: Seen, index: number) => boolean = () => false;
  #out = new Uint32Array(1024 * DESC_WORDS);

  override tx(descs: Uint32Array, n: number, now: number): number {
    if (n * DESC_WORDS > this.#out.length) this.#out = new Uint32Array(2 * n * DESC_WORDS);
    let m = 0;
    for (let k = 0; k < n;) {
      let records = 1;
      while ((descs[(k + records - 1) * DESC_WORDS + 2] & TxFlag.more) !== 0) records++;
      const s = this.#parse(descs, k, records);
      if (s !== undefined) {
        this.seen.push(s);
        if (this.drop(s, this.seen.length - 1)) {
          for (let r = k; r < k + records; r++) this.zone.release(descs[r * DESC_WORDS]);
          k += records;
          continue;
        }
      }
      this.#out.set(descs.subarray(k * DESC_WORDS, (k + records) * DESC_WORDS), m * DESC_WORDS);
      m += records;
      k += records;
    }
    const took = this.inner.tx(this.#out, m, now);
    if (took !== m) throw new Error(`the tap's device took ${took} of ${m} records`);
    return n;
  }

  #parse(descs: Uint32Array, k: number, records: number): Seen | undefined {
    const zone = this.zone;
    const b = zone.bytes;
    const f = zone.dataStart(descs[k * DESC_WORDS]) + (descs[k * DESC_WORDS + 1] & 0xffff);
    if (b[f + 12] !== 0x08 || b[f + 13] !== 0x00 || b[f + 23] !== 6) return undefined;
    const ip = f + 14;
    const ihl = (b[ip] & 0x0f) * 4;
    const total = (b[ip + 2] << 8) | b[ip + 3];
    const tcp = ip + ihl;
    const doff = (b[tcp + 12] >>> 4) * 4;
    const sack: number[] = [];
    for (let o = tcp + 20; o < tcp + doff;) {
      const kind = b[o];
      if (kind === 0) break;
      if (kind === 1) {
        o++;
        continue;
      }
      if (kind === 5) { for (let e = o + 2; e < o + b[o + 1]; e += 4) sack.push(u32(b, e)); }
      o += b[o + 1];
    }
    return { seq: u32(b, tcp + 4), len: total - ihl - doff, flags: b[tcp + 13], records, sack };
  }
}

function u32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

describe("TCP over frame chains (MTU 65521)", () => {
  for (const lossDetection of ["rack", "rfc6675"] as const) {
    test(`bulk both ways through loss, reordering, duplication and corruption is byte-exact (${lossDetection})`, () => {
      for (let seed = 1; seed <= 3; seed++) {
        const r = transfer({
          seed,
          bytesAtoB: 3 << 20,
          bytesBtoA: 1 << 20,
          faults: { loss: 0.03, reorder: 0.05, reorderFrames: 3, duplicate: 0.03, corrupt: 0.01 },
          tcp: { mss, lossDetection },
          ...link,
        });
        assert(r.ok, r.detail);
        // The transfer went in chains: well over one per 64 KiB of data both ways.
        assert(r.chained >= (4 << 20) / 65536, `seed=${seed}: ${r.chained} chained segments received`);
      }
    });
  }

  for (const lossDetection of ["rack", "rfc6675"] as const) {
    test(`a lost 64 KiB segment whose neighbours are SACKed goes again as exactly its range, one chain (${lossDetection})`, () => {
      let tap: Tap | undefined;
      let tapB: Tap | undefined;
      const { a, b, ta, tb, clock } = tcpHosts({
        ...link,
        buffers: 2048,
        tcp: { mss, lossDetection, noDelay: true },
        wrapA: (d) => (tap = new Tap(d)),
        wrapB: (d) => (tapB = new Tap(d)),
      });
      const server = new Endpoint(tb, clock, 0, 2);
      tb.listen(80, () => server.handlers());
      let clientClosed = false;
      const conn = ta.connect(addrB, 80, { onClose: () => (clientClosed = true) }, clock.now);
      assert(
        clock.runUntil(() => server.conn !== undefined && conn.state === State.established, 1000),
        "not established",
      );
      // Two small segments, then the bulk in full segments: lose the first small one and the
      // second full one, which each sit between segments that arrive.
      const data = new Uint8Array(20_000 + 20_000 + (1 << 20));
      for (let i = 0; i < data.length; i++) data[i] = (i * 131 + 7) & 0xff;
      const isn = (conn.sndUna - 1) >>> 0; // SYN takes one
      const lost: { seq: number; len: number }[] = [];
      let fulls = 0;
      tap!.drop = (s) => {
        if (s.len === 0 || (s.flags & (SYN | FIN)) !== 0) return false;
        if (lost.some((l) => l.seq === s.seq)) return false; // retransmissions go through
        const small = s.seq === isn + 1;
        const second = s.len === full && ++fulls === 2;
        if (small || second) lost.push({ seq: s.seq, len: s.len });
        return small || second;
      };
      let sent = 0;
      for (const part of [20_000, 20_000, data.length - 40_000]) {
        sent += ta.write(conn, data.subarray(sent, sent + part), clock.now);
        clock.run(0.2);
      }
      while (sent < data.length) {
        sent += ta.write(conn, data.subarray(sent), clock.now);
        clock.run(1);
      }
      ta.close(conn, clock.now);
      assert(clock.runUntil(() => server.ended, 60_000), `received ${server.received} of ${data.length}`);
      assertEquals(lost.length, 2, JSON.stringify(lost));
      assertEquals(lost[0].len, 20_000);
      assertEquals(lost[1].len, full);
      // Each lost segment went again exactly: the same range, the full one as one chain.
      const seen = tap!.seen.filter((s) => s.len > 0);
      for (const l of lost) {
        const again = seen.filter((s) => s.seq === l.seq);
        assert(again.length >= 2, `segment at ${l.seq - isn} not resent`);
        assertEquals(again[1].len, l.len, `resent at ${l.seq - isn}`);
        if (l.len === full) assertEquals(again[1].records, Math.ceil((full + 66) / (dataRoom - 128)));
      }
      // No byte that arrived was sent again: each data segment went once, but for the lost two.
      const resent = seen.length - new Set(seen.map((s) => s.seq)).size;
      assertEquals(resent, 2, `segments sent again: ${resent}`);
      // b's SACK blocks name whole segments a sent, never a lost one before its retransmission.
      const edges = new Set<number>();
      for (const s of seen) edges.add(s.seq).add((s.seq + s.len) >>> 0);
      const blocks = tapB!.seen.flatMap((s) => s.sack);
      assert(blocks.length > 0, "b sent no SACK block");
      for (let i = 0; i < blocks.length; i += 2) {
        assert(
          edges.has(blocks[i]) && edges.has(blocks[i + 1]),
          `block ${blocks[i] - isn}..${blocks[i + 1] - isn}`,
        );
      }
      assertEquals(server.recvDigest, createHash("sha256").update(data).digest("hex"));
      assert(clock.runUntil(() => clientClosed && server.closed, 60_000), "not closed");
      clock.run(65_000); // past TIME-WAIT
      for (const h of [a, b]) {
        h.device.close();
        h.zone.flush();
        assertEquals(h.zone.accounting().inUse, 0, `${h.zone.name}: buffers in use`);
      }
    });
  }

  test("a window smaller than a segment, then a zero window: segments fit the window, the persist timer probes, all arrives", () => {
    let tap: Tap | undefined;
    const rcvBuf = 30_000; // under half a segment, three buffers' worth
    const { ta, tb, clock } = tcpHosts({
      ...link,
      buffers: 1024,
      tcp: { mss },
      tcpB: { mss, rcvBufBytes: rcvBuf },
      wrapA: (d) => (tap = new Tap(d)),
    });
    const data = new Uint8Array(1 << 20);
    for (let i = 0; i < data.length; i++) data[i] = (i * 251 + 3) & 0xff;
    const hash = createHash("sha256");
    const buf = new Uint8Array(65536);
    let reading = false;
    let received = 0;
    let ended = false;
    const drain = (c: Tcb) => {
      for (let n; (n = tb.read(c, buf, clock.now)) > 0;) {
        hash.update(buf.subarray(0, n));
        received += n;
      }
    };
    let srv: Tcb | undefined;
    tb.listen(80, () => ({
      onOpen: (c: Tcb) => (srv = c),
      onData: (c: Tcb) => reading && drain(c),
      onEnd: (c: Tcb) => {
        ended = true;
        tb.close(c, clock.now);
      },
    }));
    const conn = ta.connect(addrB, 80, {}, clock.now);
    let sent = 0;
    const pump = () => {
      if (conn.state === State.established) sent += ta.write(conn, data.subarray(sent), clock.now);
      return false;
    };
    // b reads nothing: a fills the window and stops at zero; the persist timer probes it.
    clock.runUntil(() => (pump(), conn.stats.zeroWindowProbes >= 2), 60_000);
    assertEquals(conn.sndWnd, 0, "a never saw the window close");
    assert(srv !== undefined && srv.recvq.bytes <= rcvBuf, `b holds ${srv?.recvq.bytes}`);
    reading = true;
    drain(srv);
    assert(
      clock.runUntil(() => {
        pump();
        if (sent === data.length && conn.state === State.established) ta.close(conn, clock.now);
        drain(srv!);
        return ended;
      }, 600_000),
      `received ${received} of ${data.length}`,
    );
    assertEquals(received, data.length);
    assertEquals(hash.digest("hex"), createHash("sha256").update(data).digest("hex"));
    const segs = tap!.seen.filter((x) => x.len > 0);
    for (const x of segs) assert(x.len <= rcvBuf, `a segment of ${x.len} bytes in a window of ${rcvBuf}`);
    assert(segs.some((x) => x.records > 1), "no segment went as a chain");
  });

  test("many connections that fill their windows: each counts what a buffer holds, and b's zone holds them all", () => {
    // 16 connections with 4 MiB receive buffers send 2 MiB each to b, whose application reads
    // nothing until they all stall. b's 4096 jumbo buffers give each a share of 128: a window
    // of 128 x 9024 bytes. Counted at the MSS per buffer, each would offer its whole 4 MiB
    // (465 buffers): 16 of them are 7440 buffers, and b's zone runs out.
    const conns = 16;
    const bytes = 2 << 20;
    const { a, b, ta, tb, clock } = tcpHosts({
      ...link,
      buffers: 8192,
      buffersB: 4096,
      tcp: { mss },
      tcpB: { mss, rcvBufBytes: 4 << 20 },
    });
    const servers: Endpoint[] = [];
    tb.listen(80, () => {
      const e = new Endpoint(tb, clock, 0, 1000 + servers.length);
      e.reading = false;
      servers.push(e);
      return e.handlers();
    });
    const clients: Endpoint[] = [];
    for (let i = 0; i < conns; i++) {
      const e = new Endpoint(ta, clock, bytes, 100 + i);
      clients.push(e);
      ta.connect(addrB, 80, e.handlers(), clock.now);
    }
    const stalled = () =>
      servers.length === conns && clients.every((c) => c.conn !== undefined && c.conn.sndWnd === 0);
    // Where the window promised more than the share holds, b drops what fills it, again and
    // again: the window never closes and the senders retransmit until the application reads.
    assert(
      clock.runUntil(stalled, 5_000),
      `the windows did not close; b dropped ${tb.counters.rcvShareDrops} segments`,
    );
    const held = b.zone.accounting().inUse;
    assert(held <= b.zone.capacity * 0.6, `b holds ${held} of ${b.zone.capacity} buffers`);
    for (const s of servers) {
      s.reading = true;
      s.drain(s.conn!);
    }
    const done = clock.runUntil(
      () => clients.every((c) => c.closed) && servers.every((s) => s.closed),
      600_000,
    );
    assert(done, `finished: ${servers.filter((s) => s.ended).length} of ${conns}`);
    const sent = new Set(clients.map((c) => c.sendDigest));
    for (const s of servers) assert(sent.has(s.recvDigest), "a connection's bytes differ");
    const c = tb.counters;
    const wire = (b.device as MemoryEndpoint).rxCounters;
    assertEquals(
      {
        poolPressureDrops: c.poolPressureDrops,
        rcvShareDrops: c.rcvShareDrops,
        noBuffer: wire.droppedNoBuffer,
      },
      { poolPressureDrops: 0, rcvShareDrops: 0, noBuffer: 0 },
    );
    assert(c.inChainedSegs > 0, "no segment came as a chain");
    clock.run(65_000); // past TIME-WAIT
    for (const h of [a, b]) {
      h.device.close();
      h.zone.flush();
      assertEquals(h.zone.accounting().inUse, 0, `${h.zone.name}: buffers in use`);
    }
  });
});
