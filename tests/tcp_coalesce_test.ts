// Receive coalescing: in-order segments of one flow that arrive in one
// receive burst reach TCP as one chained segment (what a NIC's LRO or the
// shim's GRO makes), which TCP takes as one segment: one pass through input,
// every link queued as a zero-copy piece, an ACK at the end of the burst (it
// stands for two or more segments, RFC 5681 4.2) unless an answer carries it
// first. Coalescing never merges across a hole, a PSH or a FIN, and every
// buffer comes back to the zone.
import { assert, assertEquals, assertThrows } from "@std/assert";
import { receiveOffloadEnabled } from "../src/api/config.ts";
import { parseArgs, UsageError } from "../src/cli/args.ts";
import type { RxCoalescer } from "../src/device/coalesce.ts";
import { ConfigError, parseStackConfig } from "../src/mod.ts";
import { Drop } from "../src/wire/mod.ts";
import { describe, test } from "./harness.ts";
import { ACK, type Dialogue, established, FIN, type Out, pattern, PSH } from "./tcp_dialogue.ts";

/** `n` in-order segments of `len` bytes from B's relative sequence number `seq`. */
function run(seq: number, n: number, len: number, last: number = ACK): Out[] {
  return Array.from({ length: n }, (_, i) => ({
    flags: i === n - 1 ? last : ACK,
    seq: seq + i * len,
    ack: 1,
    payload: len,
  }));
}

function coalescer(d: Dialogue): RxCoalescer {
  return d.a.device as RxCoalescer;
}

/** A's buffers all back in its zone once the connection is gone. */
function allReturned(d: Dialogue): void {
  d.abort();
  d.run(10);
  d.a.zone.flush();
  assertEquals(d.a.zone.accounting().inUse, 0, "every buffer of A's zone came back");
}

describe("TCP receive coalescing", () => {
  test("in-order segments of one burst: one coalesced segment, one pass through input, one ACK at once", () => {
    const d = established({ coalescing: true });
    d.sendBurst(run(1, 4, 1000));
    assertEquals([coalescer(d).packets, coalescer(d).segments], [1, 4]);
    assertEquals([d.tcp.counters.inChainedSegs, d.tcp.counters.inChainedLinks], [1, 4]);
    assertEquals(d.tcb!.stats.segsIn, 2, "the handshake's ACK, and one coalesced segment");
    d.expect({ flags: ACK, seq: 1, ack: 4001 });
    d.recvNothing(300);
    assertEquals(d.received, [...pattern(4000, 1)]);
    allReturned(d);
  });

  test("the receive queue holds each link as a piece: peek walks them without a copy", () => {
    const d = established({ coalescing: true, autoRead: false });
    d.sendBurst(run(1, 3, 500));
    const q = d.tcb!.recvq;
    assertEquals([q.pieces, q.bytes], [3, 1500]);
    const got: number[] = [];
    for (let v = q.peek(); v.length > 0; v = q.peek()) {
      assertEquals(v.length, 500);
      assertEquals(v.buffer, d.a.zone.bytes.buffer, "a view of the zone");
      got.push(...v);
      q.consume(v.length);
    }
    assertEquals(got, [...pattern(1500, 1)]);
    allReturned(d);
  });

  test("SACK blocks inside a coalesced segment: one block for all of it, beyond the hole", () => {
    const d = established({ coalescing: true, peer: { sackPermitted: true } });
    // 1..1001 is lost; the next three arrive in one burst, coalesced, out of order.
    d.sendBurst(run(1001, 3, 1000));
    assertEquals(d.tcp.counters.inChainedSegs, 1);
    d.expect({ flags: ACK, ack: 1, sack: [[1001, 4001]] });
    assertEquals(d.tcb!.reasm!.count, 3, "each link waits as a piece of its own");
    // The hole fills: everything is delivered, in order.
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 1000 });
    d.expect({ flags: ACK, ack: 4001, sack: [] });
    assertEquals(d.received, [...pattern(4000, 1)]);
    // A coalesced segment that starts with bytes already received: the old part is trimmed.
    d.sendBurst(run(3001, 3, 1000));
    d.expect({ flags: ACK, ack: 6001 });
    assertEquals(d.received, [...pattern(6000, 1)]);
    allReturned(d);
  });

  test("a PSH ends coalescing: the segment carrying it is merged last, nothing after it joins", () => {
    const d = established({ coalescing: true });
    d.sendBurst([...run(1, 2, 700, ACK | PSH), ...run(1401, 3, 700)]);
    assertEquals([coalescer(d).packets, coalescer(d).segments], [2, 5]);
    assertEquals(d.tcp.counters.inChainedSegs, 2);
    // Each coalesced segment stands for two or more, and both came in one burst: one ACK for
    // both, at the end of the burst (input.ts: the burst is the unit of coalescing for ACKs).
    d.expect({ flags: ACK, ack: 3501 });
    d.recvNothing(100);
    assertEquals(d.received, [...pattern(3500, 1)]);
    allReturned(d);
  });

  test("a change of the IP header's TOS ends coalescing: a CE mark never merges with unmarked segments", () => {
    const d = established({ coalescing: true });
    // ECT(0), ECT(0), CE, CE, ECT(0): three packets, the marked pair one of them (RFC 3168 5).
    const burst = run(1, 5, 1000).map((o, i) => ({ ...o, ecn: i === 2 || i === 3 ? 3 : 2 }));
    d.sendBurst(burst);
    assertEquals([coalescer(d).packets, coalescer(d).segments], [2, 4]);
    assertEquals(d.tcp.counters.inChainedSegs, 2);
    assertEquals(d.tcb!.stats.segsIn, 4, "the handshake's ACK, two coalesced segments and the last alone");
    assertEquals(d.received, [...pattern(5000, 1)]);
    allReturned(d);
  });

  test("a FIN ends coalescing: the coalesced segment carries it, A takes data and FIN at once", () => {
    const d = established({ coalescing: true });
    d.sendBurst([...run(1, 3, 1000, ACK | FIN), ...run(3002, 1, 10)]);
    assertEquals([coalescer(d).packets, coalescer(d).segments], [1, 3]);
    assertEquals(d.state(), "CLOSE-WAIT");
    assertEquals(d.events.includes("end"), true);
    d.expect({ flags: ACK, ack: 3002 });
    assertEquals(d.received, [...pattern(3000, 1)]);
    allReturned(d);
  });

  test("a hole ends coalescing: segments after it form a packet of their own", () => {
    const d = established({ coalescing: true, peer: { sackPermitted: true } });
    d.sendBurst([...run(1, 2, 1000), ...run(4001, 2, 1000)]);
    assertEquals([coalescer(d).packets, coalescer(d).segments], [2, 4]);
    // The in-order pair's ACK waits for the end of the burst; the pair beyond the hole is ACKed
    // at once (RFC 5681 4.2), and that ACK carries the first pair's news too.
    d.expect({ flags: ACK, ack: 2001, sack: [[4001, 6001]] });
    d.recvNothing(100);
    allReturned(d);
  });

  test("a segment that fails its checksum is not merged: the stack drops it, the rest coalesce around it", () => {
    const d = established({ coalescing: true, peer: { sackPermitted: true } });
    const burst = run(1, 4, 1000);
    burst[1].corrupt = true;
    d.sendBurst(burst);
    assertEquals([coalescer(d).packets, coalescer(d).segments], [1, 2], "only the two after it");
    assertEquals(d.a.ip.counters.malformed[Drop.tcpBadChecksum], 1);
    // The first segment alone waits for a delayed ACK; the coalesced pair beyond the hole is ACKed at once.
    d.expect({ flags: ACK, ack: 1001, sack: [[2001, 4001]] });
    d.send({ flags: ACK, seq: 1001, ack: 1, payload: 1000 });
    d.expect({ flags: ACK, ack: 4001 });
    assertEquals(d.received, [...pattern(4000, 1)]);
    allReturned(d);
  });

  test("a coalesced segment that would overflow the window: trimmed at the window's edge, counted, the rest resent", () => {
    const d = established({ coalescing: true, tcp: { rcvBufBytes: 2500 }, autoRead: false });
    d.sendBurst(run(1, 4, 1000));
    assertEquals(d.tcp.counters.inChainedSegs, 1);
    assertEquals(d.tcp.counters.rcvWindowTrims, 1);
    assertEquals(d.tcb!.recvq.bytes, 2500, "the window's worth, no more");
    d.expect({ flags: ACK, ack: 2501, window: 0 });
    // The application reads; the sender resends what lay past the window.
    const buf = new Uint8Array(4000);
    const n = d.tcp.read(d.tcb!, buf, d.now);
    assertEquals(n, 2500);
    d.expect({ flags: ACK, ack: 2501, window: 2500 });
    d.sendBurst(run(2501, 2, 750));
    d.expect({ flags: ACK, ack: 4001 });
    const m = d.tcp.read(d.tcb!, buf.subarray(n), d.now);
    assertEquals([...buf.subarray(0, n + m)], [...pattern(4000, 1)]);
    allReturned(d);
  });

  test("zero-window probes with the offload on: refused and answered, then a coalesced burst is taken whole", () => {
    const d = established({ coalescing: true, tcp: { rcvBufBytes: 2000 }, autoRead: false });
    d.sendBurst(run(1, 2, 1000));
    d.expect({ flags: ACK, ack: 2001, window: 0 });
    for (let i = 0; i < 3; i++) {
      // The peer's probes, two in one burst: the window is shut, neither is taken.
      d.sendBurst([{ flags: ACK, seq: 2001, ack: 1, payload: 1 }, {
        flags: ACK,
        seq: 2002,
        ack: 1,
        payload: 1,
      }]);
      d.expect({ flags: ACK, ack: 2001, window: 0 });
      d.run(1);
      d.queue.length = 0;
    }
    assertEquals(d.tcb!.recvq.bytes, 2000);
    const buf = new Uint8Array(6000);
    let n = d.tcp.read(d.tcb!, buf, d.now);
    d.expect({ flags: ACK, ack: 2001, window: 2000 });
    d.sendBurst(run(2001, 2, 1000));
    d.expect({ flags: ACK, ack: 4001 });
    n += d.tcp.read(d.tcb!, buf.subarray(n), d.now);
    assertEquals([...buf.subarray(0, n)], [...pattern(4000, 1)]);
    assert(d.tcp.counters.inChainedSegs >= 2);
    allReturned(d);
  });
});

describe("receiveOffload", () => {
  const address = "198.18.9.1/24";
  test("on by default over memif, off elsewhere and where a wrapper takes single buffers", () => {
    const on = (c: Record<string, unknown>) => receiveOffloadEnabled(parseStackConfig({ address, ...c }));
    assertEquals(on({ device: "memif:/tmp/m.sock,server" }), true);
    assertEquals(on({ device: "memif:/tmp/m.sock,server", receiveOffload: false }), false);
    assertEquals(on({ device: "memif:/tmp/m.sock,server", faults: { loss: 0.01, seed: 1 } }), false);
    assertEquals(on({ device: "af_packet:veth0" }), false, "coexistence wraps the port in the kernel bridge");
    assertEquals(on({ device: "af_packet:veth0", coexist: false, receiveOffload: true }), true);
  });

  test("true with coexist, faults or pcap is a ConfigError naming receiveOffload; the CLI names --receive-offload", () => {
    for (
      const extra of [{ device: "af_packet:veth0" }, {
        device: "memif:/m.sock",
        faults: { loss: 0.1, seed: 1 },
      }]
    ) {
      const e = assertThrows(
        () => parseStackConfig({ address, receiveOffload: true, ...extra }),
        ConfigError,
      );
      assertEquals(e.field, "receiveOffload");
    }
    const base = ["serve", "echo", "--device", "memif:/m.sock,server", "--address", address];
    const cmd = parseArgs([...base, "--receive-offload", "off"]);
    assert(cmd.kind === "serve");
    assertEquals(cmd.options.config.receiveOffload, false);
    assertEquals(
      assertThrows(() => parseArgs([...base, "--receive-offload", "maybe"]), UsageError).arg,
      "--receive-offload",
    );
  });
});
