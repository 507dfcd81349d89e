import { assert, assertEquals, assertGreater, assertLess, assertNotEquals, assertThrows } from "@std/assert";
import { BURST_MAX, DESC_WORDS, type Device, RxFlag } from "../src/device/device.ts";
import { FaultInjector, type FaultInjectorOptions } from "../src/device/fault/mod.ts";
import { createMemoryLink } from "../src/device/memory/mod.ts";
import { ConfigError } from "../src/errors.ts";
import { createHeapZone, type MemZone } from "../src/mem/mod.ts";
import { Random } from "../src/util/mod.ts";
import { describe, test } from "./harness.ts";

const descs = new Uint32Array(BURST_MAX * DESC_WORDS);

/** A frame numbered `seq`: bytes 14..15 carry the number, the rest a pattern of it. */
function frame(zone: MemZone, seq: number, len = 100): number {
  const h = zone.take();
  const b = zone.data(h, zone.headroom, len);
  for (let i = 0; i < len; i++) b[i] = (seq * 7 + i) & 0xff;
  b[14] = seq >>> 8;
  b[15] = seq & 0xff;
  return h;
}

function expectedFrame(seq: number, len = 100): number[] {
  const out = Array.from({ length: len }, (_, i) => (seq * 7 + i) & 0xff);
  out[14] = seq >>> 8;
  out[15] = seq & 0xff;
  return out;
}

interface Delivered {
  at: number;
  handle: number;
  flags: number;
  bytes: number[];
}

/** Receives what `dev` has at `now`, copies it out and releases the buffers. */
function collect(dev: Device, now: number, out: Delivered[]): void {
  for (;;) {
    const n = dev.rx(descs, BURST_MAX, now);
    for (let k = 0; k < n; k++) {
      const at = k * DESC_WORDS;
      const word = descs[at + 1];
      const h = descs[at];
      out.push({
        at: now,
        handle: h,
        flags: descs[at + 2],
        bytes: [...dev.zone.data(h, word & 0xffff, word >>> 16)],
      });
      dev.zone.release(h);
    }
    if (n < BURST_MAX) return;
  }
}

interface Run {
  delivered: Delivered[];
  injector: FaultInjector;
  zone: MemZone;
}

/**
 * Sends `count` frames (numbered from 0, `burst` at a time, one burst every
 * `stepMs`) from a to b over a memory link, with the injector around a (tx
 * faults) or b (rx faults); drives the virtual clock until nothing is left
 * to deliver, closes everything and checks that no buffer is left in use.
 */
function run(
  options: FaultInjectorOptions,
  count: number,
  { burst = 8, stepMs = 1, len = 100, zoneCount = 2048, wrap = "tx" as "tx" | "rx", keepOpen = false } = {},
): Run {
  const zone = createHeapZone({ count: zoneCount });
  const [a, b] = createMemoryLink({ zone, queueLimit: 4096 });
  const injector = new FaultInjector(wrap === "tx" ? a : b, options);
  const sender: Device = wrap === "tx" ? injector : a;
  const receiver: Device = wrap === "tx" ? b : injector;
  const delivered: Delivered[] = [];
  let now = 0;
  let seq = 0;
  while (seq < count) {
    const m = Math.min(burst, count - seq);
    for (let k = 0; k < m; k++) {
      descs.set([frame(zone, seq + k, len), zone.headroom | (len << 16), 0, 0], k * DESC_WORDS);
    }
    const took = sender.tx(descs, m, now);
    for (let k = took; k < m; k++) zone.release(descs[k * DESC_WORDS]);
    seq += took;
    collect(sender, now, []); // lets held sent frames go
    collect(receiver, now, delivered);
    now += stepMs;
  }
  for (;;) {
    const t = Math.min(sender.pollAt(now), receiver.pollAt(now));
    if (t === Infinity) break;
    if (t > now) now = t;
    collect(sender, now, []);
    const before = delivered.length;
    collect(receiver, now, delivered);
    if (delivered.length === before && t <= now && sender.pollAt(now) <= now && receiver.pollAt(now) <= now) {
      throw new Error(`seed ${options.seed}: stuck at ${now}`);
    }
  }
  if (!keepOpen) {
    injector.close();
    (wrap === "tx" ? b : a).close();
    assertEquals(zone.accounting().inUse, 0, `seed ${options.seed}: buffers leaked`);
  }
  return { delivered, injector, zone };
}

function seqOf(d: Delivered): number {
  return (d.bytes[14] << 8) | d.bytes[15];
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

describe("fault injector", () => {
  test("without faults frames pass straight through and are counted", () => {
    for (const wrap of ["tx", "rx"] as const) {
      const { delivered, injector } = run({ seed: 1 }, 50, { wrap });
      assertEquals(delivered.map(seqOf), range(50));
      assertEquals(delivered[7].bytes, expectedFrame(7));
      const c = wrap === "tx" ? injector.txCounters : injector.rxCounters;
      assertEquals([c.frames, c.delivered, c.bytes, c.lost], [50, 50, 5000, 0]);
    }
  });

  test("loss at 1 drops every frame, at 0 none", () => {
    for (const wrap of ["tx", "rx"] as const) {
      const all = run({ seed: 2, [wrap]: { loss: 1 } }, 40, { wrap });
      assertEquals(all.delivered.length, 0);
      const c = wrap === "tx" ? all.injector.txCounters : all.injector.rxCounters;
      assertEquals([c.frames, c.lost, c.delivered], [40, 40, 0]);
      const none = run({ seed: 2, [wrap]: { loss: 0, delayMs: 1 } }, 40, { wrap });
      assertEquals(none.delivered.map(seqOf), range(40));
    }
  });

  test("duplication at 1 delivers every frame twice, the copy in its own buffer", () => {
    for (const wrap of ["tx", "rx"] as const) {
      const { delivered, injector } = run({ seed: 3, [wrap]: { duplicate: 1 } }, 30, { wrap, burst: 1 });
      assertEquals(delivered.map(seqOf), range(30).flatMap((i) => [i, i]));
      for (let i = 0; i < 60; i += 2) {
        assertEquals(delivered[i].bytes, delivered[i + 1].bytes);
        assertEquals(delivered[i].bytes, expectedFrame(i / 2));
      }
      const c = wrap === "tx" ? injector.txCounters : injector.rxCounters;
      assertEquals([c.frames, c.duplicated, c.delivered], [30, 30, 60]);
    }
    // Both copies are live at once when received in one burst: distinct handles.
    const zone = createHeapZone({ count: 8 });
    const [a, b] = createMemoryLink({ zone });
    const inj = new FaultInjector(a, { seed: 3, tx: { duplicate: 1 } });
    descs.set([frame(zone, 1), zone.headroom | (100 << 16), 0, 0]);
    assertEquals(inj.tx(descs, 1, 0), 1);
    assertEquals(b.rx(descs, 8, 0), 2);
    assertNotEquals(descs[0], descs[4]);
    zone.release(descs[0]);
    zone.release(descs[4]);
    inj.close();
    b.close();
    assertEquals(zone.accounting().inUse, 0);
    assertEquals(run({ seed: 3, tx: { duplicate: 0, delayMs: 1 } }, 30).delivered.length, 30);
  });

  test("corruption at 1 flips exactly one bit past the Ethernet header of every frame, at 0 none", () => {
    for (const wrap of ["tx", "rx"] as const) {
      const { delivered, injector } = run({ seed: 4, [wrap]: { corrupt: 1 } }, 200, { wrap });
      assertEquals(delivered.length, 200);
      delivered.forEach((d, seq) => {
        // Corruption alone keeps the order: the seq-th frame delivered is frame seq (its number may be the byte hit).
        const want = expectedFrame(seq);
        const diffs = d.bytes.flatMap((x, i) => (x === want[i] ? [] : [[i, x ^ want[i]]]));
        assertEquals(diffs.length, 1, `seed 4: frame ${seq} differs in ${diffs.length} bytes`);
        const [[at, bits]] = diffs;
        assert(at >= 14, `flipped byte ${at} is in the Ethernet header`);
        assertEquals(bits & (bits - 1), 0, "one bit");
      });
      const c = wrap === "tx" ? injector.txCounters : injector.rxCounters;
      assertEquals(c.corrupted, 200);
    }
    const clean = run({ seed: 4, tx: { corrupt: 0, delayMs: 1 } }, 50);
    for (const d of clean.delivered) assertEquals(d.bytes, expectedFrame(seqOf(d)));
  });

  test("a received frame that is corrupted loses its checksum-good flags", () => {
    const zone = createHeapZone({ count: 16 });
    const good = RxFlag.ipCksumGood | RxFlag.l4CksumGood | RxFlag.rssHash;
    const stub = new StubDevice(zone, good);
    const cases = [
      { rx: { corrupt: 1 }, flags: [RxFlag.rssHash] },
      { rx: { corrupt: 0, delayMs: 1 }, flags: [good] },
      // The duplicate is copied before the flip: intact, it keeps the verdict.
      { rx: { corrupt: 1, duplicate: 1 }, flags: [RxFlag.rssHash, good] },
    ];
    for (const { rx, flags } of cases) {
      const inj = new FaultInjector(stub, { seed: 5, rx });
      stub.queue(frame(zone, 9));
      const out: Delivered[] = [];
      collect(inj, 0, out);
      collect(inj, 5, out);
      assertEquals(out.map((d) => d.flags), flags);
      if (flags.length === 2) assertEquals(out[1].bytes, expectedFrame(9));
      inj.close();
    }
    assertEquals(zone.accounting().inUse, 0);
  });

  test("corruption never writes a buffer someone else holds", () => {
    const zone = createHeapZone({ count: 8 });
    const [a, b] = createMemoryLink({ zone });
    const inj = new FaultInjector(a, { seed: 6, tx: { corrupt: 1 } });
    const h = frame(zone, 3);
    zone.retain(h); // the sender keeps it for a retransmission
    descs.set([h, zone.headroom | (100 << 16), 0, 0]);
    inj.tx(descs, 1, 0);
    const out: Delivered[] = [];
    collect(b, 0, out);
    assertEquals([...zone.data(h, zone.headroom, 100)], expectedFrame(3));
    assertNotEquals(out[0].handle, h);
    assertNotEquals(out[0].bytes, expectedFrame(3));
    assertEquals(zone.refcount(h), 1);
    zone.release(h);
    inj.close();
    b.close();
    assertEquals(zone.accounting().inUse, 0);
  });

  test("reordering at 1 by time delays every frame and keeps their order", () => {
    const { delivered, injector } = run({ seed: 7, tx: { reorder: 1, reorderMs: 5 } }, 20, { burst: 1 });
    assertEquals(delivered.map(seqOf), range(20));
    assertEquals(delivered.map((d) => d.at), range(20).map((i) => i + 5));
    assertEquals(injector.txCounters.reordered, 20);
  });

  test("reordering at 1 by count holds each frame until the next one comes; close releases the last", () => {
    const { delivered, injector, zone } = run({ seed: 8, tx: { reorder: 1, reorderFrames: 1 } }, 10, {
      burst: 1,
      keepOpen: true,
    });
    assertEquals(delivered.map(seqOf), range(9));
    assertEquals(delivered.map((d) => d.at), range(9).map((i) => i + 1));
    assertEquals(injector.held(), { rx: 0, tx: 1 });
    assertEquals(zone.accounting().inUse, 1);
    injector.close();
    assertEquals(injector.txCounters.releasedOnClose, 1);
    assertEquals(zone.accounting().inUse, 0);
  });

  test("reordering lets later frames overtake, and a deadline bounds the wait", () => {
    const { delivered, injector } = run(
      { seed: 9, tx: { reorder: 0.2, reorderFrames: 3, reorderMs: 10 } },
      400,
      {
        burst: 2,
      },
    );
    const seqs = delivered.map(seqOf);
    assertEquals([...seqs].sort((x, y) => x - y), range(400), "every frame arrives once");
    const late = seqs.filter((s, i) => seqs.slice(i + 1).some((t) => t < s)).length;
    assertGreater(late, 0);
    assertGreater(injector.txCounters.reordered, 40);
    assertLess(injector.txCounters.reordered, 120);
    assertEquals(injector.txCounters.releasedOnClose, 0, "the deadline released the last ones");
  });

  test("delay and jitter shift frames within bounds and keep their order", () => {
    for (const wrap of ["tx", "rx"] as const) {
      const { delivered, injector } = run({ seed: 10, [wrap]: { delayMs: 20, jitterMs: 4 } }, 300, {
        wrap,
        burst: 1,
        stepMs: 0.25,
      });
      assertEquals(delivered.map(seqOf), range(300));
      const lateness = delivered.map((d) => d.at - seqOf(d) * 0.25);
      assert(
        lateness.every((x) => x >= 20 - 1e-9 && x < 24 + 0.25),
        `seed 10: ${Math.min(...lateness)}..${Math.max(...lateness)}`,
      );
      assertGreater(Math.max(...lateness) - Math.min(...lateness), 2, "jitter varies the delay");
      const c = wrap === "tx" ? injector.txCounters : injector.rxCounters;
      assertEquals(c.delayed, 300);
    }
  });

  test("a bandwidth limit spaces frames by their serialization time", () => {
    // 125-byte frames at 1 Mbit/s: one per ms; a burst of 10 at 0 leaves at 1..10 ms.
    const { delivered, injector } = run({ seed: 11, tx: { bandwidthBps: 1e6 } }, 10, { burst: 10, len: 125 });
    assertEquals(delivered.map((d) => d.at), range(10).map((i) => i + 1));
    assertEquals(injector.txCounters.throttled, 9);
  });

  test("queuedBytes: what the rate limit holds ahead of a frame entering now, draining at the rate", () => {
    const zone = createHeapZone({ count: 64 });
    const [a] = createMemoryLink({ zone });
    const injector = new FaultInjector(a, { seed: 12, tx: { bandwidthBps: 1e6 } });
    // Ten 125-byte frames at 0 at 1 Mbit/s: 1250 bytes queued, one frame's worth less every ms.
    for (let i = 0; i < 10; i++) descs.set([frame(zone, i, 125), zone.headroom | (125 << 16), 0, 0], i * DESC_WORDS);
    assertEquals(injector.tx(descs, 10, 0), 10);
    assertEquals(injector.queuedBytes("tx", 0), 1250);
    assertEquals(injector.queuedBytes("tx", 4), 750);
    assertEquals(injector.queuedBytes("tx", 10), 0);
    assertEquals(injector.queuedBytes("tx", 20), 0);
    assertEquals(injector.queuedBytes("rx", 0), 0, "no rate limit on the receiving side");
    injector.close();
    assertEquals(zone.accounting().inUse, 0);
  });

  test("at 0.1, about a tenth of 10,000 frames is lost, duplicated or corrupted", () => {
    for (const fault of ["loss", "duplicate", "corrupt"] as const) {
      const { injector } = run({ seed: 12, tx: { [fault]: 0.1 } }, 10_000, { burst: 32 });
      const c = injector.txCounters;
      const hits = fault === "loss" ? c.lost : fault === "duplicate" ? c.duplicated : c.corrupted;
      assertLess(Math.abs(hits / 10_000 - 0.1), 0.015, `seed 12: ${fault} ${hits} of 10000`);
    }
  });

  test("the same seed gives the same frames byte for byte, another seed others", () => {
    const options = (seed: number): FaultInjectorOptions => ({
      seed,
      tx: {
        loss: 0.05,
        duplicate: 0.05,
        corrupt: 0.05,
        reorder: 0.05,
        reorderFrames: 2,
        delayMs: 3,
        jitterMs: 2,
      },
      rx: { loss: 0.05, corrupt: 0.05 },
    });
    const trace = (r: Run) => r.delivered.map((d) => `${d.at.toFixed(6)}:${d.bytes.join(",")}`).join("|");
    const first = trace(run(options(1234), 2000));
    assertEquals(trace(run(options(1234), 2000)), first, "seed 1234 replays");
    assertNotEquals(trace(run(options(1235), 2000)), first);
    const rxFirst = trace(run(options(77), 2000, { wrap: "rx" }));
    assertEquals(trace(run(options(77), 2000, { wrap: "rx" })), rxFirst, "seed 77 replays on rx");
  });

  test("traffic one way does not change the faults the other way", () => {
    const faults = { seed: 13, tx: { loss: 0.3, corrupt: 0.3 }, rx: { loss: 0.5 } };
    const quiet = run(faults, 500).delivered.map(seqOf);
    // The same, with frames coming back through the injector's rx side in between.
    const zone = createHeapZone({ count: 2048 });
    const [a, b] = createMemoryLink({ zone, queueLimit: 4096 });
    const inj = new FaultInjector(a, faults);
    const got: Delivered[] = [];
    for (let seq = 0; seq < 500; seq++) {
      descs.set([frame(zone, seq), zone.headroom | (100 << 16), 0, 0]);
      inj.tx(descs, 1, seq);
      descs.set([frame(zone, 9999), zone.headroom | (100 << 16), 0, 0]);
      b.tx(descs, 1, seq);
      collect(inj, seq, []);
      collect(b, seq, got);
    }
    assertEquals(got.map(seqOf), quiet);
    inj.close();
    b.close();
    assertEquals(zone.accounting().inUse, 0);
  });

  test("a full direction takes fewer frames and loses none", () => {
    const zone = createHeapZone({ count: 64 });
    const [a, b] = createMemoryLink({ zone });
    const inj = new FaultInjector(a, { seed: 14, holdLimit: 4, tx: { delayMs: 10 } });
    for (let k = 0; k < 6; k++) {
      descs.set([frame(zone, k), zone.headroom | (100 << 16), 0, 0], k * DESC_WORDS);
    }
    assertEquals(inj.tx(descs, 6, 0), 4);
    zone.release(descs[4 * DESC_WORDS]);
    zone.release(descs[5 * DESC_WORDS]);
    assertEquals(inj.held(), { rx: 0, tx: 4 });
    assertEquals(inj.pollAt(0), 10);
    collect(inj, 10, []);
    const out: Delivered[] = [];
    collect(b, 10, out);
    assertEquals(out.map(seqOf), [0, 1, 2, 3]);
    inj.close();
    b.close();
    assertEquals(zone.accounting().inUse, 0);
  });

  test("close releases held frames both ways and closes the wrapped device", () => {
    const zone = createHeapZone({ count: 64 });
    const [a, b] = createMemoryLink({ zone });
    const inj = new FaultInjector(a, { seed: 15, tx: { delayMs: 100 }, rx: { delayMs: 100 } });
    for (let k = 0; k < 5; k++) {
      descs.set([frame(zone, k), zone.headroom | (100 << 16), 0, 0], k * DESC_WORDS);
    }
    inj.tx(descs, 5, 0);
    for (let k = 0; k < 3; k++) {
      descs.set([frame(zone, k), zone.headroom | (100 << 16), 0, 0], k * DESC_WORDS);
    }
    b.tx(descs, 3, 0);
    assertEquals(inj.rx(descs, 8, 0), 0);
    assertEquals(inj.held(), { rx: 3, tx: 5 });
    assertEquals(zone.accounting().inUse, 8);
    inj.close();
    assertEquals(inj.txCounters.releasedOnClose + inj.rxCounters.releasedOnClose, 8);
    assertEquals(zone.accounting().inUse, 0);
    assertEquals(a.rx(descs, 8, 1000), 0, "the wrapped endpoint is closed");
    assertEquals(inj.rx(descs, 8, 1000), 0);
    b.close();
  });

  test("bad options name the field, and the seed is required", () => {
    const zone = createHeapZone({ count: 4 });
    const [a] = createMemoryLink({ zone });
    const field = (o: unknown) =>
      assertThrows(() => new FaultInjector(a, o as FaultInjectorOptions), ConfigError).field;
    assertEquals(field({}), "seed");
    assertEquals(field({ seed: NaN }), "seed");
    assertEquals(field({ seed: 1, tx: { loss: 1.5 } }), "tx.loss");
    assertEquals(field({ seed: 1, rx: { jitterMs: -1 } }), "rx.jitterMs");
    assertEquals(field({ seed: 1, tx: { reorder: 0.1 } }), "tx.reorder");
    assertEquals(field({ seed: 1, tx: { reorderFrames: 1.5 } }), "tx.reorderFrames");
    assertEquals(field({ seed: 1, holdLimit: 1 }), "holdLimit");
  });
});

describe("random", () => {
  test("a seed gives the same sequence on every runtime", () => {
    const r = new Random(42);
    assertEquals([r.next(), r.next(), r.next()], [2837322924, 544945897, 479756282]);
    assertEquals(new Random(2 ** 40 + 5).next(), 626942406);
    assertEquals(new Random(-7).next(), 4105674630);
    assertNotEquals(new Random(42, 1).next(), new Random(42).next());
  });

  test("float, int and chance stay in range and are roughly uniform", () => {
    const r = new Random(99);
    const buckets = new Array(6).fill(0);
    for (let i = 0; i < 60_000; i++) {
      const f = r.float();
      assert(f >= 0 && f < 1);
      buckets[r.int(6)]++;
    }
    for (const b of buckets) assertLess(Math.abs(b - 10_000), 500);
    assertEquals(r.int(1), 0);
    assert(r.int(2 ** 32) < 2 ** 32);
    assertEquals([r.chance(0), r.chance(1)], [false, true]);
    assertThrows(() => r.int(0), RangeError);
    assertThrows(() => r.int(1.5), RangeError);
    assertThrows(() => new Random(Infinity), RangeError);
  });
});

/** A device whose rx hands out queued frames with fixed flags; tx takes everything and releases it. */
class StubDevice implements Device {
  readonly name = "stub";
  readonly mac = new Uint8Array(6);
  readonly mtu = 1500;
  readonly offloads = { rxChecksum: true, txChecksum: false };
  readonly zone: MemZone;
  readonly #flags: number;
  #queued: number[] = [];
  constructor(zone: MemZone, flags: number) {
    this.zone = zone;
    this.#flags = flags;
  }
  queue(h: number): void {
    this.#queued.push(h);
  }
  rx(d: Uint32Array, max: number): number {
    let n = 0;
    while (n < max && this.#queued.length > 0) {
      d.set([this.#queued.shift()!, this.zone.headroom | (100 << 16), this.#flags, 0x1234], n * DESC_WORDS);
      n++;
    }
    return n;
  }
  tx(d: Uint32Array, n: number): number {
    for (let k = 0; k < n; k++) this.zone.release(d[k * DESC_WORDS]);
    return n;
  }
  pollAt(): number {
    return this.#queued.length > 0 ? 0 : Infinity;
  }
  close(): void {
    for (const h of this.#queued.splice(0)) this.zone.release(h);
  }
}
