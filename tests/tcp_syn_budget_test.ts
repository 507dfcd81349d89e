// A SYN flood shed before it costs more than it must (syn_budget.ts): with
// the backlog full, a loop iteration answers at most `synCookiesPerPoll` SYNs
// with cookies and drops the rest unanswered, counted in `synsShed`; the
// segments of established connections in the same burst are never shed, and
// a legitimate SYN after the flood completes its handshake through a cookie.
// Beside it, a token bucket bounds the cookies a second (`synCookiesPerSecond`),
// whatever the poll rate; SYNs beyond it are counted in `synsShedByRate` too.
import { assert, assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { type StackConfig, synCookieRateDefault, synCookieRateKernelPath } from "../src/api/config.ts";
import { parseArgs, UsageError } from "../src/cli/args.ts";
import { ConfigError } from "../src/errors.ts";
import { Drop } from "../src/wire/mod.ts";
import { ShedMemory } from "../src/tcp/syn_retry.ts";
import { TcpLayer } from "../src/tcp/tcp_layer.ts";
import { describe, test } from "./harness.ts";
import { twoHosts } from "./sim.ts";
import { ACK, type Dialogue, established, listening, type Out, pattern, PSH, SYN } from "./tcp_dialogue.ts";

const floodPort = 30_000;

/** Everything A sends within `ms` of virtual time. */
function drain(d: Dialogue, ms = 5) {
  d.run(ms);
  return d.queue.splice(0);
}

/** `n` SYNs from ports floodPort + 1.. (none of them answered by B). */
function syns(n: number, from = floodPort + 1): Out[] {
  return Array.from({ length: n }, (_, i) => ({ flags: SYN, seq: 0, srcPort: from + i, mss: 1460 }));
}

/**
 * An established connection (the cookie rate protects it) and a full
 * backlog: one half-open connection from `floodPort` takes its one slot.
 */
function flooded(tcp: { synCookiesPerPoll: number; synCookiesPerSecond: number }): Dialogue {
  const d = established({ tcp, backlog: 1 });
  d.send({ flags: SYN, seq: 0, srcPort: floodPort, mss: 1460 });
  d.expect({ flags: SYN | ACK, dstPort: floodPort });
  return d;
}

describe("SYN budget", () => {
  test("a burst of 40 SYNs on a full backlog: 4 answered with cookies, 36 shed and counted, no state", () => {
    const d = listening({ tcp: { synCookiesPerPoll: 4 }, backlog: 0 });
    d.sendBurst(syns(40));
    const sent = drain(d);
    assertEquals(sent.filter((s) => s.flags === (SYN | ACK)).length, 4);
    assertEquals(sent.length, 4);
    assertEquals([d.tcp.counters.synCookiesSent, d.tcp.counters.synsShed], [4, 36]);
    assertEquals(d.tcp.connections, 0);
  });

  test("the established connection's segments in a flooded burst are all taken and acknowledged", () => {
    const d = established({ tcp: { synCookiesPerPoll: 4 }, backlog: 1 });
    // A SYN that takes the one backlog slot: from here on, SYNs are the cookie path's.
    d.send({ flags: SYN, seq: 0, srcPort: floodPort, mss: 1460 });
    d.expect({ flags: SYN | ACK, dstPort: floodPort });
    // 48 SYNs, with four data segments of the established connection after the budget is spent.
    const burst = syns(48);
    for (let i = 0; i < 4; i++) {
      burst.splice(12 + 10 * i, 0, { flags: ACK | PSH, seq: 1 + 100 * i, ack: 1, payload: 100 });
    }
    d.sendBurst(burst);
    const sent = drain(d, 200);
    assertEquals(sent.filter((s) => s.flags === (SYN | ACK)).length, 4, "cookie SYN-ACKs");
    assertEquals(d.tcp.counters.synsShed, 44);
    assertEquals(d.received, Array.from(pattern(400, 1)), "every data segment delivered");
    const acks = sent.filter((s) => s.dstPort !== floodPort && s.flags === ACK);
    assertEquals(acks.at(-1)?.ack, 401, "all 400 bytes acknowledged");
    assertEquals(d.state(), "ESTABLISHED");
  });

  test("after the flood, the next iteration answers a legitimate SYN and its cookie completes", () => {
    const d = listening({ tcp: { synCookiesPerPoll: 2 }, backlog: 0 });
    d.sendBurst(syns(30));
    assertEquals(drain(d).length, 2);
    assertEquals(d.tcp.counters.synsShed, 28);
    const port = floodPort + 100;
    d.send({ flags: SYN, seq: 0, srcPort: port, mss: 1460 });
    const s = d.recv();
    assertEquals([s.flags, s.dstPort, s.ack], [SYN | ACK, port, 1]);
    d.issA = s.rawSeq;
    d.send({ flags: ACK, seq: 1, ack: 1, srcPort: port });
    assertEquals(d.state(), "ESTABLISHED");
    assertEquals(d.tcb!.remotePort, port);
    assertEquals([d.tcp.counters.synCookiesAccepted, d.tcp.counters.synsShed], [1, 28]);
  });

  test("beyond the budget a bare SYN is shed unparsed, even one for a half-open connection; its timer goes on", () => {
    const d = listening({ tcp: { synCookiesPerPoll: 1 }, backlog: 1 });
    const port = floodPort;
    d.send({ flags: SYN, seq: 0, srcPort: port, mss: 1460 });
    const synAck = d.recv();
    assertEquals([synAck.flags, synAck.dstPort], [SYN | ACK, port]);
    // The backlog is full: one cookie answers the first flood SYN, then the budget is spent, and
    // the half-open connection's own SYN again is shed with the flood (not answered, not parsed:
    // neither an input error nor a lookup is counted).
    const errs = d.tcp.counters.inErrs;
    const lookups = d.tcp.tableStats().lookups;
    d.sendBurst([...syns(2, floodPort + 1), { flags: SYN, seq: 0, srcPort: port, mss: 1460 }]);
    const sent = drain(d, 1);
    assertEquals(sent.map((s) => [s.flags, s.dstPort]), [[SYN | ACK, floodPort + 1]]);
    assertEquals([d.tcp.counters.synCookiesSent, d.tcp.counters.synsShed], [1, 2]);
    assertEquals(d.tcp.counters.inErrs, errs);
    assertEquals(d.tcp.tableStats().lookups, lookups + 1, "only the answered SYN was looked up");
    assertEquals(d.tcp.connections, 1, "the half-open connection stays");
    // Its retransmission timer resends the SYN-ACK, and the handshake completes.
    const again = drain(d, 1500).filter((s) => s.dstPort === port);
    assertEquals(again.map((s) => s.flags), [SYN | ACK]);
    d.send({ flags: ACK, seq: 1, ack: 1, srcPort: port });
    assertEquals(d.state(), "ESTABLISHED");
  });

  test("a shed SYN sent again (the same tuple and ISN) goes ahead of the flood; a flood SYN from that port does not", () => {
    const d = listening({ tcp: { synCookiesPerPoll: 2 }, backlog: 0 });
    const port = floodPort + 500;
    const legit = { flags: SYN, seq: 77, srcPort: port, mss: 1460 };
    // The budget goes to the first two SYNs; the client's is shed with the rest.
    d.sendBurst([...syns(4), legit, ...syns(4, floodPort + 10)]);
    assertEquals([d.tcp.counters.synCookiesSent, d.tcp.counters.synsShed], [2, 7]);
    d.run(1);
    // An iteration on, the flood spends the new budget first; a SYN from the client's port with
    // another ISN is shed, and the client's retransmission is answered all the same.
    d.sendBurst([...syns(3, floodPort + 20), { ...legit, seq: 999 }, legit, ...syns(3, floodPort + 30)]);
    const answered = drain(d).filter((s) => s.flags === (SYN | ACK));
    assertEquals(answered.filter((s) => s.dstPort === port).map((s) => s.ack), [78]);
    assertEquals([d.tcp.counters.synCookiesSent, d.tcp.counters.synsShed], [5, 7 + 5]);
    assertEquals(d.tcp.counters.synRetriesAhead, 1, "counted as gone ahead");
    // Its cookie completes the handshake.
    const s = answered.find((s) => s.dstPort === port)!;
    d.issA = s.rawSeq;
    d.issB = (d.issB + 77) >>> 0;
    d.send({ flags: ACK, seq: 1, ack: 1, srcPort: port });
    assertEquals(d.state(), "ESTABLISHED");
    assertEquals(d.tcb!.remotePort, port);
  });

  test("the shed memory: a SYN goes ahead once, and is forgotten once seven newer ones share its bucket", () => {
    const m = new ShedMemory();
    const k = ShedMemory.key(0xc6120002, 40_000, 80, 12345);
    assertEquals(m.take(k), false, "nothing shed yet");
    m.add(k);
    assertEquals([m.take(k), m.take(k)], [true, false], "once");
    m.add(k);
    // Keys of the same bucket (the same top 17 bits) with other fingerprints push it out, oldest first.
    const sameBucket = (i: number) => ((k & 0xffff8000) | ((k + 1 + i) & 0x7fff)) >>> 0;
    for (let i = 0; i < 6; i++) m.add(sameBucket(i));
    assertEquals(m.take(k), true, "six newer: still remembered");
    m.add(k);
    for (let i = 0; i < 7; i++) m.add(sameBucket(i));
    assertEquals(m.take(k), false, "seven newer: forgotten");
    // Another sequence number or port is another SYN.
    m.add(k);
    assertEquals(m.take(ShedMemory.key(0xc6120002, 40_000, 80, 12346)), false);
    assertEquals(m.take(ShedMemory.key(0xc6120002, 40_001, 80, 12345)), false);
  });

  test("takeOrAdd: a SYN shed for the first time is remembered, its retransmission found once", () => {
    const m = new ShedMemory();
    const k = ShedMemory.key(0xc6120002, 40_000, 80, 12345);
    assertEquals([m.takeOrAdd(k), m.takeOrAdd(k), m.takeOrAdd(k)], [false, true, false]);
    assertEquals(m.take(k), true, "the third pass remembered it again");
  });

  test("the shed memory under a flood of 300k SYN/s: chance hits stay rare, a SYN sent again 1 s later is found", () => {
    // 3 s of a flood from random ports and ISNs (a seeded generator), 300 SYNs a ms, each shed;
    // one client SYN every 10 ms of the first 2 s, sent again 1 s later.
    let s = 0x2545f491;
    const rnd = () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s;
    };
    const m = new ShedMemory();
    const clients: number[] = [];
    let flood = 0;
    let hits = 0;
    let found = 0;
    for (let ms = 0; ms < 3000; ms++) {
      for (let i = 0; i < 300; i++) {
        const key = ShedMemory.key(0xc6120002, 20_000 + (rnd() % 10_000), 80, rnd());
        flood++;
        if (m.takeOrAdd(key)) hits++;
      }
      if (ms % 10 !== 0) continue;
      if (ms < 2000) {
        const key = ShedMemory.key(0xc6120002, 40_000 + ms / 10, 80, rnd());
        m.takeOrAdd(key);
        clients.push(key);
      }
      if (ms >= 1000 && m.take(clients[(ms - 1000) / 10])) found++;
    }
    assert(hits < flood * 0.0005, `${hits} of ${flood} flood SYNs taken for retransmissions`);
    assert(found >= 190, `${found} of 200 SYNs sent again found`);
  });

  test("beyond the budget a SYN is shed before its checksum is summed; within it a bad checksum drops it", () => {
    const d = listening({ tcp: { synCookiesPerPoll: 4 }, backlog: 0 });
    const bad = () => d.a.ip.counters.malformed[Drop.tcpBadChecksum];
    const bad0 = bad();
    const burst = syns(8);
    burst[0] = { ...burst[0], corrupt: true }; // within the budget: summed, dropped, not answered
    for (let i = 5; i < 8; i++) burst[i] = { ...burst[i], corrupt: true }; // beyond it: shed unsummed
    d.sendBurst(burst);
    const sent = drain(d);
    assertEquals(sent.map((s) => [s.flags, s.dstPort]), [2, 3, 4, 5].map((i) => [SYN | ACK, floodPort + i]));
    assertEquals([bad() - bad0, d.tcp.counters.synCookiesSent, d.tcp.counters.synsShed], [1, 4, 3]);
    assertEquals(d.tcp.connections, 0);
  });

  test("synCookiesPerPoll: Infinity answers every SYN", () => {
    const d = listening({ tcp: { synCookiesPerPoll: Infinity }, backlog: 0 });
    d.sendBurst(syns(40));
    assertEquals(drain(d).length, 40);
    assertEquals([d.tcp.counters.synCookiesSent, d.tcp.counters.synsShed], [40, 0]);
  });

  test("the cookie rate: 200 SYNs in 20 bursts 5 ms apart get the bucket's 10 plus about 1 a ms; the rest are shed and counted", () => {
    // No per-iteration budget: only the rate (1000 a second, a bucket of 10) bounds the answers,
    // since an established connection is there to protect.
    const d = flooded({ synCookiesPerPoll: Infinity, synCookiesPerSecond: 1000 });
    const start = d.now;
    let sent = 0;
    for (let i = 0; i < 20; i++) {
      d.sendBurst(syns(10, floodPort + 1 + 10 * i));
      sent += drain(d).filter((s) => s.flags === (SYN | ACK)).length;
    }
    const ms = d.now - start;
    const k = d.tcp.counters;
    // The bucket starts full (10), then gains one token a ms; a token's fraction waits for the next SYN.
    assert(sent >= 10 + Math.floor(ms) - 20 && sent <= 10 + ms, `${sent} answered in ${ms} ms`);
    assertEquals(k.synCookiesSent, sent);
    assertEquals([k.synsShed, k.synsShedByRate], [200 - sent, 200 - sent]);
    assertEquals(d.tcp.connections, 2, "the established connection and the half-open one");
    // Once the bucket has filled again, a SYN is answered and its cookie completes the handshake.
    d.run(20);
    const port = floodPort + 1000;
    d.send({ flags: SYN, seq: 0, srcPort: port, mss: 1460 });
    const s = d.recv();
    assertEquals([s.flags, s.dstPort], [SYN | ACK, port]);
    d.issA = s.rawSeq;
    d.send({ flags: ACK, seq: 1, ack: 1, srcPort: port });
    assertEquals(d.tcp.counters.synCookiesAccepted, 1);
    assertEquals(d.tcp.connections, 3);
  });

  test("with no established connection to protect, the cookie rate does not bound: the per-poll budget does", () => {
    const d = listening({ tcp: { synCookiesPerPoll: 4, synCookiesPerSecond: 100 }, backlog: 0 });
    for (let i = 0; i < 3; i++) {
      d.sendBurst(syns(10, floodPort + 10 * i));
      assertEquals(drain(d, 1).filter((s) => s.flags === (SYN | ACK)).length, 4);
    }
    assertEquals([d.tcp.counters.synCookiesSent, d.tcp.counters.synsShed, d.tcp.counters.synsShedByRate], [
      12,
      18,
      0,
    ]);
  });

  test("with the rate spent, a shed SYN sent again goes ahead from the retries' own bucket", () => {
    const d = flooded({ synCookiesPerPoll: Infinity, synCookiesPerSecond: 100 });
    const port = floodPort + 500;
    const legit = { flags: SYN, seq: 77, srcPort: port, mss: 1460 };
    // The bucket holds one token (100 a second, 10 ms of them): the first flood SYN takes it.
    d.sendBurst([...syns(4), legit, ...syns(4, floodPort + 10)]);
    assertEquals(drain(d, 1).filter((s) => s.flags === (SYN | ACK)).length, 1);
    assertEquals([d.tcp.counters.synsShed, d.tcp.counters.synsShedByRate], [8, 8]);
    // 1 ms on the bucket is still empty (a tenth of a token): the flood is shed, the client's SYN
    // again is answered.
    d.sendBurst([...syns(3, floodPort + 20), legit, ...syns(3, floodPort + 30)]);
    const answered = drain(d, 1).filter((s) => s.flags === (SYN | ACK));
    assertEquals(answered.map((s) => [s.dstPort, s.ack]), [[port, 78]]);
    assertEquals([d.tcp.counters.synCookiesSent, d.tcp.counters.synsShedByRate], [2, 14]);
  });

  test("synCookiesPerPoll must be an integer >= 1 or Infinity", () => {
    for (const bad of [0, -1, 2.5, NaN]) {
      const { a } = twoHosts();
      const e = assertThrows(() => new TcpLayer(a.ip, { synCookiesPerPoll: bad }), ConfigError);
      assertEquals(e.message.startsWith("tcp.synCookiesPerPoll"), true, e.message);
    }
  });

  test("synCookiesPerSecond must be an integer >= 1 or Infinity", () => {
    for (const bad of [0, -5, 0.5, NaN]) {
      const { a } = twoHosts();
      const e = assertThrows(() => new TcpLayer(a.ip, { synCookiesPerSecond: bad }), ConfigError);
      assertEquals(e.message.startsWith("tcp.synCookiesPerSecond"), true, e.message);
    }
  });

  test("the command line: --syn-rate N or off sets tcp.synCookiesPerSecond, beside --syn-budget", () => {
    const base = ["serve", "http", "--device", "memif:/tmp/x.sock,server", "--address", "198.18.9.1/24"];
    for (const [v, want] of [["5000", 5000], ["off", Infinity]] as const) {
      const r = parseArgs([...base, "--syn-rate", v, "--syn-budget", "4"]);
      assert(r.kind === "serve");
      assertEquals(r.options.config.tcp, { synCookiesPerPoll: 4, synCookiesPerSecond: want, backlog: 1024 });
    }
    for (const bad of ["0", "-3", "fast"]) {
      const e = assertThrows(() => parseArgs([...base, "--syn-rate", bad]), UsageError);
      assertStringIncludes(e.message, "--syn-rate");
    }
  });

  test("the command line: --syn-budget N or off sets tcp.synCookiesPerPoll", () => {
    const base = ["serve", "http", "--device", "memif:/tmp/x.sock,server", "--address", "198.18.9.1/24"];
    const plain = parseArgs(base);
    assert(plain.kind === "serve");
    assertEquals(plain.options.config.tcp, { backlog: 1024 }); // luna serve's backlog (--backlog)
    for (const [v, want] of [["16", 16], ["off", Infinity]] as const) {
      const r = parseArgs([...base, "--syn-budget", v]);
      assert(r.kind === "serve");
      assertEquals(r.options.config.tcp, { synCookiesPerPoll: want, backlog: 1024 });
    }
    for (const bad of ["0", "-3", "many"]) {
      const e = assertThrows(() => parseArgs([...base, "--syn-budget", bad]), UsageError);
      assertStringIncludes(e.message, "--syn-budget");
    }
  });

  test("the cookie rate's default: bounded where a sent frame runs the kernel's path (af_packet, af_xdp, packet:), not on memif or a NIC", () => {
    const at = (device: string, tcp?: StackConfig["tcp"]) =>
      synCookieRateDefault({ device, address: "198.18.9.1/24", ...(tcp ? { tcp } : {}) } as StackConfig);
    assertEquals(at("af_packet:veth0"), synCookieRateKernelPath);
    assertEquals(at("af_xdp:veth0"), synCookieRateKernelPath);
    assertEquals(at("packet:lo"), synCookieRateKernelPath);
    assertEquals(at("memif:/tmp/x.sock,server"), Infinity);
    assertEquals(at("0000:01:00.0"), Infinity);
    assertEquals(at("af_packet:veth0", { synCookiesPerSecond: 200 }), 200);
    assertEquals(at("memif:/tmp/x.sock,server", { synCookiesPerSecond: 300 }), 300);
  });
});
