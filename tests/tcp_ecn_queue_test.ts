// ECN end to end between two TCP layers on the in-memory link, through the
// fault injector's CE marking: at random (DCTCP's alpha follows the marked
// fraction, RFC 8257 3.3) and by a queue threshold K on a rate-limited,
// bounded queue (RFC 8257 3.1: DCTCP keeps the queue near K, where CUBIC
// without ECN fills it until it drops).
import { assert, assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import type { FaultInjector, FaultOptions } from "../src/device/mod.ts";
import { ConfigError } from "../src/errors.ts";
import type { TcpConfig } from "../src/tcp/config.ts";
import { Dctcp } from "../src/tcp/dctcp.ts";
import type { Tcb } from "../src/tcp/tcb.ts";
import { describe, test } from "./harness.ts";
import { addrB } from "./sim.ts";
import { Endpoint, tcpHosts } from "./tcp_sim.ts";

interface Run {
  ok: boolean;
  sender: Tcb;
  receiver: Tcb;
  faults: FaultInjector;
  ms: number;
  /** The sender's smoothed RTT, sampled every ms of the transfer's second half. */
  srtts: number[];
  /** DCTCP's alpha at the sender, sampled likewise (empty for other controllers). */
  alphas: number[];
}

/** A sends `bytes` to B through `faults` (frames A sends only); both with `tcp`. */
function run(bytes: number, faults: FaultOptions, tcp: Partial<TcpConfig>): Run {
  const { a, ta, tb, clock } = tcpHosts({ seed: 5, faultsAtoB: faults, delayMs: 0.25, buffers: 8192, tcp });
  const client = new Endpoint(ta, clock, bytes, 11);
  const server = new Endpoint(tb, clock, 0, 12);
  tb.listen(80, () => server.handlers());
  ta.connect(addrB, 80, client.handlers(), clock.now);
  const srtts: number[] = [];
  const alphas: number[] = [];
  const t0 = clock.now;
  let done = false;
  for (let i = 0; i < 100_000 && !done; i++) {
    done = clock.runUntil(() => server.ended, 1);
    if (server.received > bytes / 2 && client.conn !== undefined) {
      srtts.push(client.conn.rto.srttMs);
      const cc = client.conn.cc;
      if (cc instanceof Dctcp) alphas.push(cc.alpha);
    }
  }
  return {
    ok: done && server.received === bytes && server.recvDigest === client.sendDigest,
    sender: client.conn!,
    receiver: server.conn!,
    faults: a.device as FaultInjector,
    ms: clock.now - t0,
    srtts,
    alphas,
  };
}

describe("ECN through the fault injector's CE marking", () => {
  test("random CE marks on a quarter of the frames: DCTCP's alpha ~ 0.25 (RFC 8257 3.3)", () => {
    const r = run(8 << 20, { ceMark: 0.25 }, { congestion: "dctcp", ecn: "on" });
    assert(r.ok, "transfer incomplete");
    assert(r.sender.ecnOk && r.receiver.ecnOk);
    const cc = r.sender.cc;
    assert(cc instanceof Dctcp);
    assert(cc.windows > 50, `${cc.windows} windows`);
    // Alpha is a moving average (g = 1/16) of each window's marked fraction, so one reading swings
    // with the last windows' luck: its mean over the transfer's second half follows the fraction.
    assert(r.alphas.length > 10, `${r.alphas.length} samples`);
    const mean = r.alphas.reduce((a, b) => a + b, 0) / r.alphas.length;
    assertAlmostEquals(mean, 0.25, 0.06);
    assert(r.receiver.stats.ceMarksIn > 0 && r.sender.stats.eceIn > 0);
    assertEquals(r.sender.stats.retransSegs, 0);
  });

  test("without ECN nothing is ECN-capable: CE marking at 1 marks no frame", () => {
    const r = run(1 << 20, { ceMark: 1 }, {});
    assert(r.ok);
    assertEquals(r.sender.ecnOk, false);
    assertEquals(r.faults.txCounters.ceMarked, 0);
    assertEquals(r.receiver.stats.ceMarksIn, 0);
  });

  test("a 100 Mbit/s queue marking at K = 30 KB: DCTCP keeps it short and drops nothing, CUBIC fills it", () => {
    const queue = { bandwidthBps: 100e6, ceThresholdBytes: 30_000, queueBytesMax: 300_000 };
    const dctcp = run(16 << 20, queue, { congestion: "dctcp", ecn: "on" });
    const cubic = run(16 << 20, queue, { congestion: "cubic" });
    assert(dctcp.ok && cubic.ok);
    assertEquals(dctcp.faults.txCounters.queueDrops, 0);
    assert(dctcp.faults.txCounters.ceMarked > 0);
    assert(cubic.faults.txCounters.queueDrops > 0, "CUBIC never filled the queue");
    const median = (v: number[]) => v.slice().sort((x, y) => x - y)[v.length >> 1];
    const rttD = median(dctcp.srtts);
    const rttC = median(cubic.srtts);
    // K = 30 KB at 100 Mbit/s is 2.4 ms of queue; 300 KB is 24 ms.
    assert(rttD < 0.5 * rttC, `DCTCP srtt ${rttD} ms, CUBIC ${rttC} ms`);
    assert(dctcp.ms < 1.1 * cubic.ms, `DCTCP took ${dctcp.ms} ms, CUBIC ${cubic.ms} ms`);
  });

  test("a queue threshold without a rate to queue behind is refused, naming the field", () => {
    assertThrows(() => run(1000, { ceThresholdBytes: 1000 }, {}), ConfigError, "ceThresholdBytes");
  });
});
