// A soak on the in-memory link through seeded faults both ways (loss,
// duplication, reordering, corruption, delay): transfers of three shapes run
// side by side, a new one starting as each ends, for SOAK_SECONDS of wall
// time (15 by default; SOAK_SECONDS=600 on demand): connection churn (a few hundred bytes
// each way, one in five aborted by the client halfway), echo-sized exchanges
// (up to 64 KB each way) and bulk downloads (up to 2 MB). Every transfer is
// checked by SHA-256 both ways; no connection fails unless it was aborted on
// purpose; at the end nothing is left (connections, timers, buffers) and the
// heap has not grown past a bound.
import { assert, assertEquals } from "@std/assert";
import type { Tcb } from "../src/tcp/tcb.ts";
import { Random } from "../src/util/random.ts";
import { describe, test } from "./harness.ts";
import { addrB, type Host } from "./sim.ts";
import { Endpoint, tcpHosts } from "./tcp_sim.ts";

const seconds = Number(process.env.SOAK_SECONDS ?? 15);
const seed = Number(process.env.SOAK_SEED ?? 11);
const concurrent = 8;

type Shape = "churn" | "echo" | "bulk";

interface Pair {
  shape: Shape;
  client: Endpoint;
  server: Endpoint | undefined;
  /** The client aborts once it has received this many bytes (churn); -1: never. */
  abortAt: number;
  aborted: boolean;
  bytesAtoB: number;
  bytesBtoA: number;
}

/** The smallest heap seen in a window of samples: close to what is live after a collection. */
function heapFloor(samples: number[]): number {
  return Math.min(...samples);
}

// V8 collects young garbage often enough that the floor of its samples is what
// is live. Bun's collector can leave a large heap uncollected for seconds in a
// synchronous loop that follows other tests in the same process (floors 130 MB
// apart in a whole-suite run, a few MB apart after a forced collection), so
// under Bun a sample follows a full collection, taken every 25 rounds to bound
// its cost.
const bunGc = (globalThis as { Bun?: { gc(force: boolean): void } }).Bun?.gc;
const roundsPerSample = bunGc === undefined ? 1 : 25;

function sampleHeap(): number {
  bunGc?.(true);
  return process.memoryUsage().heapUsed;
}

describe("soak", () => {
  test(`${seconds} s of churn, echo and bulk through loss, duplication, reordering and corruption`, () => {
    const faults = {
      loss: 0.01,
      duplicate: 0.005,
      reorder: 0.01,
      reorderFrames: 3,
      corrupt: 0.002,
      jitterMs: 0.2,
    };
    const { a, b, ta, tb, clock } = tcpHosts({
      seed,
      faultsAtoB: faults,
      faultsBtoA: faults,
      delayMs: 0.5,
      bandwidthBps: 2e9,
      buffers: 16384,
    });
    const rnd = new Random(seed, 3);
    // What the server sends on each connection, by the client's port.
    const plans = new Map<number, Pair>();
    tb.listen(80, (c) => {
      const p = plans.get(c.remotePort);
      assert(p !== undefined, `a plan for client port ${c.remotePort}`);
      p.server = new Endpoint(tb, clock, p.bytesBtoA, rnd.next());
      const h = p.server.handlers();
      h.onOpen(c);
      return h;
    });
    const open: Pair[] = [];
    const done = { churn: 0, echo: 0, bulk: 0, aborted: 0, bytes: 0 };
    const start = () => {
      const k = rnd.int(10);
      const shape: Shape = k < 4 ? "churn" : k < 8 ? "echo" : "bulk";
      const bytesAtoB = shape === "churn"
        ? rnd.int(600)
        : shape === "echo"
        ? 1 + rnd.int(65536)
        : rnd.int(200);
      const bytesBtoA = shape === "churn"
        ? rnd.int(600)
        : shape === "echo"
        ? bytesAtoB
        : 262_144 + rnd.int(2 << 20);
      const client = new Endpoint(ta, clock, bytesAtoB, rnd.next());
      const abortAt = shape === "churn" && bytesBtoA > 100 && rnd.int(5) === 0 ? rnd.int(bytesBtoA) : -1;
      const pair: Pair = { shape, client, server: undefined, abortAt, aborted: false, bytesAtoB, bytesBtoA };
      const h = client.handlers();
      const onData = h.onData;
      h.onData = (c: Tcb) => {
        onData(c);
        if (pair.abortAt >= 0 && !pair.aborted && client.received >= pair.abortAt) {
          pair.aborted = true;
          ta.abort(c, clock.now);
        }
      };
      const c = ta.connect(addrB, 80, h, clock.now);
      plans.set(c.localPort, pair);
      open.push(pair);
    };
    const finished = (p: Pair) => p.client.closed && (p.server === undefined ? p.aborted : p.server.closed);
    const check = (p: Pair) => {
      const what = `seed ${seed}: ${p.shape} ${p.bytesAtoB}/${p.bytesBtoA} bytes`;
      if (p.aborted) {
        done.aborted++;
        return;
      }
      assertEquals(p.client.error, undefined, `${what}: the client closed cleanly`);
      assertEquals(p.server!.error, undefined, `${what}: the server closed cleanly`);
      assertEquals(p.client.received, p.bytesBtoA, what);
      assertEquals(p.client.recvDigest, p.server!.sendDigest, `${what}: b->a SHA-256`);
      assertEquals(p.server!.recvDigest, p.client.sendDigest, `${what}: a->b SHA-256`);
      done[p.shape]++;
      done.bytes += p.bytesAtoB + p.bytesBtoA;
    };

    const heap: number[] = [];
    const t0 = performance.now();
    const end = t0 + seconds * 1000;
    let early: number[] | undefined;
    for (let i = 0; i < 10_000_000 && (performance.now() < end || open.length > 0); i++) {
      while (performance.now() < end && open.length < concurrent) start();
      assert(clock.runUntil(() => open.some(finished), 120_000), `seed ${seed}: no transfer ended in 120 s`);
      for (let k = open.length - 1; k >= 0; k--) {
        const p = open[k];
        if (!finished(p)) continue;
        check(p);
        plans.delete(p.client.conn?.localPort ?? -1);
        open.splice(k, 1);
      }
      if (i % roundsPerSample === 0) heap.push(sampleHeap());
      // The heap after the first fifth of the run, warmed up, is the baseline.
      if (early === undefined && performance.now() - t0 > seconds * 200 && heap.length >= 8) {
        early = heap.splice(0);
      }
    }
    const total = done.churn + done.echo + done.bulk;
    console.log(
      `soak: ${total} transfers checked (${done.churn} churn, ${done.echo} echo, ${done.bulk} bulk; ` +
        `${(done.bytes / 1e6).toFixed(0)} MB) and ${done.aborted} aborted, in ${
          clock.now.toFixed(0)
        } ms of link time`,
    );
    assert(total > 50, `only ${total} transfers`);
    assert(done.churn > 0 && done.echo > 0 && done.bulk > 0, JSON.stringify(done));
    // Past TIME-WAIT: nothing left behind.
    clock.run(65_000);
    assertEquals(ta.connections + tb.connections, 0, "no connection left");
    assertEquals([ta.pollAt(), tb.pollAt()], [Infinity, Infinity], "no timer left armed");
    for (const h of [a, b] as Host[]) {
      h.device.close();
      h.zone.flush();
      assertEquals(h.zone.accounting().inUse, 0, `${h.zone.name}: every buffer back`);
    }
    if (early !== undefined && heap.length >= 8) {
      const grew = heapFloor(heap.slice(-Math.ceil(heap.length / 4))) - heapFloor(early);
      console.log(
        `soak: heap floor ${(heapFloor(early) / 1e6).toFixed(1)} MB early, grew ${
          (grew / 1e6).toFixed(1)
        } MB`,
      );
      assert(grew < 48e6, `the heap grew ${(grew / 1e6).toFixed(1)} MB`);
    }
  }, { timeoutMs: (seconds + 120) * 1000 });
});
