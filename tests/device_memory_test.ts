import { assert, assertEquals, assertNotEquals, assertThrows } from "@std/assert";
import { DESC_WORDS } from "../src/device/device.ts";
import { createMemoryLink, type MemoryEndpoint } from "../src/device/memory/mod.ts";
import { ConfigError } from "../src/errors.ts";
import { createHeapZone, type MemZone } from "../src/mem/mod.ts";
import { describe, test } from "./harness.ts";

const descs = new Uint32Array(64 * DESC_WORDS);

/** Takes a buffer and fills a `len`-byte frame whose bytes are `tag + i`. */
function frame(zone: MemZone, len: number, tag: number): number {
  const h = zone.take();
  const bytes = zone.data(h, zone.headroom, len);
  for (let i = 0; i < len; i++) bytes[i] = (tag + i) & 0xff;
  return h;
}

/** Sends one frame per entry of `lens` (tagged 1, 2, ...) from `dev` at `now`; returns their handles. */
function send(dev: MemoryEndpoint, lens: number[], now: number, tag0 = 1): number[] {
  const hs: number[] = [];
  lens.forEach((len, k) => {
    const h = frame(dev.zone, len, tag0 + k);
    hs.push(h);
    descs.set([h, dev.zone.headroom | (len << 16), 0, 0], k * DESC_WORDS);
  });
  assertEquals(dev.tx(descs, lens.length, now), lens.length);
  return hs;
}

interface Got {
  handle: number;
  bytes: number[];
}

/** Receives everything `dev` has by `now`, copies the bytes out and releases the buffers. */
function recv(dev: MemoryEndpoint, now: number, max = 64): Got[] {
  const n = dev.rx(descs, max, now);
  const out: Got[] = [];
  for (let k = 0; k < n; k++) {
    const h = descs[k * DESC_WORDS];
    const word = descs[k * DESC_WORDS + 1];
    assertEquals(descs[k * DESC_WORDS + 2], 0, "no rx flags");
    out.push({ handle: h, bytes: [...dev.zone.data(h, word & 0xffff, word >>> 16)] });
    dev.zone.release(h);
  }
  return out;
}

function expected(len: number, tag: number): number[] {
  return Array.from({ length: len }, (_, i) => (tag + i) & 0xff);
}

function assertNoneInUse(...zones: MemZone[]): void {
  for (const z of zones) assertEquals(z.accounting().inUse, 0, `${z.name}: buffers still in use`);
}

describe("memory link", () => {
  test("frames cross intact both ways, in order", () => {
    const zone = createHeapZone({ count: 64 });
    const [a, b] = createMemoryLink({ zone });
    assertEquals([a.name, b.name, a.mtu, a.offloads], ["mem-a", "mem-b", 1500, {
      rxChecksum: false,
      txChecksum: false,
      txSegmentMax: 0,
    }]);
    assertEquals([...a.mac], [2, 0, 0, 0, 0, 1]);
    assertEquals([...b.mac], [2, 0, 0, 0, 0, 2]);
    send(a, [60, 1514, 100], 0);
    assertEquals(b.pollAt(0), 0);
    const got = recv(b, 0);
    assertEquals(got.map((g) => g.bytes), [expected(60, 1), expected(1514, 2), expected(100, 3)]);
    assertEquals(b.pollAt(0), Infinity);
    send(b, [70], 0, 9);
    assertEquals(recv(a, 0).map((g) => g.bytes), [expected(70, 9)]);
    assertEquals(a.txCounters, b.rxCounters);
    assertEquals(a.txCounters.sentFrames, 3);
    assertEquals(a.txCounters.deliveredBytes, 60 + 1514 + 100);
    assertEquals(b.txCounters.deliveredFrames, 1);
    a.close();
    b.close();
    assertNoneInUse(zone);
  });

  test("rx takes at most max frames and leaves the rest", () => {
    const zone = createHeapZone({ count: 64 });
    const [a, b] = createMemoryLink({ zone });
    send(a, [60, 61, 62, 63, 64], 0);
    assertEquals(recv(b, 0, 2).length, 2);
    assertEquals(b.pending(), 3);
    assertEquals(recv(b, 0).map((g) => g.bytes.length), [62, 63, 64]);
    assertNoneInUse(zone);
  });

  test("a frame arrives after the propagation delay, on the virtual clock", () => {
    const zone = createHeapZone({ count: 16 });
    const [a, b] = createMemoryLink({ zone, delayMs: 10 });
    send(a, [60], 100);
    assertEquals(b.pollAt(100), 110);
    assertEquals(recv(b, 109.999).length, 0);
    assertEquals(recv(b, 110).length, 1);
    assertNoneInUse(zone);
  });

  test("bandwidth serializes frames one after another", () => {
    const zone = createHeapZone({ count: 16 });
    // 1 Mbit/s: a 125-byte frame takes 1 ms on the wire; then 5 ms of propagation.
    const [a, b] = createMemoryLink({ zone, delayMs: 5, bandwidthBps: 1e6 });
    send(a, [125, 125, 250], 0);
    const arrivals: number[] = [];
    let now = 0;
    for (let i = 0; i < 3; i++) {
      now = b.pollAt(now);
      arrivals.push(now);
      assertEquals(recv(b, now).length, 1);
    }
    assertEquals(arrivals, [6, 7, 9]);
    // The wire has been idle since 4 ms: a frame sent at 20 starts at once.
    send(a, [125], 20);
    assertEquals(b.pollAt(20), 26);
    recv(b, 26);
    assertNoneInUse(zone);
  });

  test("overhead bytes count toward serialization", () => {
    const zone = createHeapZone({ count: 16 });
    const [a, b] = createMemoryLink({ zone, bandwidthBps: 8e6, overheadBytes: 24 });
    send(a, [976], 0); // (976 + 24) * 8 bits at 8 Mbit/s: 1 ms
    assertEquals(b.pollAt(0), 1);
    recv(b, 1);
    assertNoneInUse(zone);
  });

  test("each direction has its own delay and bandwidth", () => {
    const zone = createHeapZone({ count: 16 });
    const [a, b] = createMemoryLink({ zone, delayMs: 1, bToA: { delayMs: 7, bandwidthBps: 1e6 } });
    send(a, [125], 0);
    send(b, [125], 0);
    assertEquals(b.pollAt(0), 1);
    assertEquals(a.pollAt(0), 8);
    recv(a, 8);
    recv(b, 8);
    assertNoneInUse(zone);
  });

  test("a full queue tail-drops and counts the drops", () => {
    const zone = createHeapZone({ count: 32 });
    const [a, b] = createMemoryLink({ zone, delayMs: 1, queueLimit: 4 });
    send(a, Array(10).fill(60), 0); // tx takes all ten
    assertEquals(a.txCounters.sentFrames, 10);
    assertEquals(a.txCounters.droppedQueueFull, 6);
    assertEquals(zone.accounting().inUse, 4, "dropped frames are released at once");
    const got = recv(b, 1);
    assertEquals(got.map((g) => g.bytes[0]), [1, 2, 3, 4], "the first four survive");
    // Received frames make room again.
    send(a, [60], 1);
    assertEquals(recv(b, 2).length, 1);
    assertNoneInUse(zone);
  });

  test("one zone: the buffer moves across without a copy", () => {
    const zone = createHeapZone({ count: 16 });
    const [a, b] = createMemoryLink({ zone });
    const [h] = send(a, [100], 0);
    assertEquals(zone.accounting().inUse, 1);
    const n = b.rx(descs, 8, 0);
    assertEquals(n, 1);
    assertEquals(descs[0], h, "same handle");
    assertEquals(descs[1], zone.headroom | (100 << 16), "same data offset and length");
    assertEquals(zone.accounting().inUse, 1);
    assertEquals(a.txCounters.copiedFrames, 0);
    zone.release(h);
    assertNoneInUse(zone);
  });

  test("one zone: a buffer the sender still holds is copied, and the sender's stays intact", () => {
    const zone = createHeapZone({ count: 16 });
    const [a, b] = createMemoryLink({ zone });
    const h = frame(zone, 80, 5);
    zone.retain(h); // kept for a retransmission
    descs.set([h, zone.headroom | (80 << 16), 0, 0]);
    a.tx(descs, 1, 0);
    assertEquals(b.rx(descs, 8, 0), 1);
    const got = descs[0];
    assertNotEquals(got, h);
    assertEquals([...zone.data(got, descs[1] & 0xffff, 80)], expected(80, 5));
    zone.data(got, descs[1] & 0xffff, 80).fill(0); // the receiver writes in its buffer
    assertEquals([...zone.data(h, zone.headroom, 80)], expected(80, 5));
    assertEquals(zone.refcount(h), 1, "the link released its reference");
    assertEquals(a.txCounters.copiedFrames, 1);
    zone.release(got);
    zone.release(h);
    assertNoneInUse(zone);
  });

  test("two zones: frames are copied into the receiver's zone and the sender's buffer released", () => {
    const zoneA = createHeapZone({ name: "host-a", count: 16 });
    const zoneB = createHeapZone({ name: "host-b", count: 16, dataRoom: 1800, headroom: 64 });
    const [a, b] = createMemoryLink({ zone: zoneA, zoneB, delayMs: 2 });
    assert(b.zone === zoneB);
    send(a, [1514, 60], 0);
    assertEquals(zoneA.accounting().inUse, 2, "held by the link while in flight");
    assertEquals(b.rx(descs, 8, 2), 2);
    assertEquals(zoneA.accounting().inUse, 0);
    assertEquals(zoneB.accounting().inUse, 2);
    assertEquals(descs[1] & 0xffff, 64, "at the receiver's headroom");
    assertEquals([...zoneB.data(descs[0], 64, 1514)], expected(1514, 1));
    assertEquals([...zoneB.data(descs[4], 64, 60)], expected(60, 2));
    zoneB.release(descs[0]);
    zoneB.release(descs[4]);
    send(b, [200], 3, 7);
    assertEquals(recv(a, 5).map((g) => g.bytes), [expected(200, 7)]);
    assertEquals(a.txCounters.copiedFrames, 2);
    assertNoneInUse(zoneA, zoneB);
  });

  test("two zones: a receiver without free buffers drops and counts", () => {
    const zoneA = createHeapZone({ count: 16 });
    const zoneB = createHeapZone({ count: 2 });
    const [a, b] = createMemoryLink({ zone: zoneA, zoneB });
    send(a, [60, 60, 60], 0);
    assertEquals(b.rx(descs, 8, 0), 2);
    assertEquals(a.txCounters.droppedNoBuffer, 1);
    zoneB.release(descs[0]);
    zoneB.release(descs[4]);
    assertNoneInUse(zoneA, zoneB);
  });

  test("frames longer than the MTU allows are dropped", () => {
    const zone = createHeapZone({ count: 16 });
    const [a, b] = createMemoryLink({ zone, mtu: 100 });
    send(a, [114, 115], 0);
    assertEquals(recv(b, 0).map((g) => g.bytes.length), [114]);
    assertEquals(a.txCounters.droppedOversize, 1);
    assertNoneInUse(zone);
  });

  test("close releases the frames waiting for the endpoint and drops later ones", () => {
    const zone = createHeapZone({ count: 16 });
    const [a, b] = createMemoryLink({ zone, delayMs: 50 });
    send(a, [60, 60], 0);
    send(b, [60], 0);
    b.close();
    assertEquals(zone.accounting().inUse, 1, "b's frame to a is still on the wire");
    assertEquals(b.rx(descs, 8, 100), 0);
    assertEquals(b.pollAt(0), Infinity);
    send(a, [60], 1);
    assertEquals(a.txCounters.droppedClosed, 3);
    assertEquals(recv(a, 50).length, 1);
    a.close();
    a.close();
    assertNoneInUse(zone);
  });

  test("configured names, MAC addresses and MTU", () => {
    const zone = createHeapZone({ count: 4 });
    const [a, b] = createMemoryLink({
      zone,
      names: ["left", "right"],
      macA: "0a:0b:0c:0d:0e:0f",
      macB: new Uint8Array([2, 1, 1, 1, 1, 1]),
      mtu: 9000,
    });
    assertEquals([a.name, b.name, a.mtu, b.mtu], ["left", "right", 9000, 9000]);
    assertEquals([...a.mac], [10, 11, 12, 13, 14, 15]);
    assertEquals([...b.mac], [2, 1, 1, 1, 1, 1]);
  });

  test("bad options name the field", () => {
    const zone = createHeapZone({ count: 4 });
    const field = (o: Partial<Parameters<typeof createMemoryLink>[0]>) =>
      assertThrows(() => createMemoryLink({ zone, ...o }), ConfigError).field;
    assertEquals(field({ mtu: 10 }), "mtu");
    assertEquals(field({ macA: "nope" }), "macA");
    assertEquals(field({ macB: new Uint8Array(5) }), "macB");
    assertEquals(field({ delayMs: -1 }), "aToB.delayMs");
    assertEquals(field({ bToA: { bandwidthBps: NaN } }), "bToA.bandwidthBps");
    assertEquals(field({ queueLimit: 0 }), "aToB.queueLimit");
  });

  test("a burst bigger than the descriptor array is refused", () => {
    const zone = createHeapZone({ count: 4 });
    const [a] = createMemoryLink({ zone });
    assertThrows(() => a.tx(new Uint32Array(4), 2, 0), RangeError);
    assertThrows(() => a.rx(new Uint32Array(4), 2, 0), RangeError);
  });

  test("a link driven past its bandwidth keeps its rate, drops the excess and leaves no buffer behind", () => {
    const zone = createHeapZone({ count: 512 });
    const [a, b] = createMemoryLink({ zone, delayMs: 0.5, bandwidthBps: 1e9, queueLimit: 64 });
    let now = 0;
    let received = 0;
    for (let round = 0; round < 200; round++) {
      send(a, Array(8).fill(1514), now); // 8 frames per 50 us: twice what 1 Gbit/s carries
      now += 0.05;
      received += recv(b, now).length;
    }
    while (b.pollAt(now) !== Infinity) {
      now = b.pollAt(now);
      received += recv(b, now).length;
    }
    assertEquals(received + a.txCounters.droppedQueueFull, 1600);
    assertEquals(received, a.txCounters.deliveredFrames);
    assert(a.txCounters.droppedQueueFull > 0, "the queue overflowed");
    // 1514 bytes at 1 Gbit/s take 12.112 us: no more than that many frames fit in the time.
    assert(received <= Math.floor((now - 0.5) / 0.012112) + 1, `${received} frames in ${now} ms`);
    assert(received >= Math.floor((200 * 0.05) / 0.012112) - 1, `the link stayed busy: ${received}`);
    assertNoneInUse(zone);
  });
});
