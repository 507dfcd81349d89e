// Frames longer than a buffer on the in-memory link and through the fault
// injector (frameChains): a chain goes and comes whole, as records that
// continue one another, its checksums filled by the sending end and checked
// by the receiving one, and every buffer of it comes back on every path.
import { assert, assertEquals, assertNotEquals } from "@std/assert";
import { DESC_WORDS, RxFlag, TxFlag } from "../src/device/device.ts";
import { FaultInjector } from "../src/device/fault/mod.ts";
import { createMemoryLink } from "../src/device/memory/mod.ts";
import type { Device } from "../src/device/mod.ts";
import { createHeapZone, type MemZone } from "../src/mem/mod.ts";
import { internetChecksum, pseudoHeaderSum } from "../src/wire/checksum.ts";
import { describe, test } from "./harness.ts";

const dataRoom = 9152; // 9024 bytes after the headroom
const good = RxFlag.ipCksumGood | RxFlag.l4CksumGood;
const lens = 14 | (20 << 8) | (20 << 20); // Ethernet, IPv4 and TCP header lengths (word 3)

/** The bytes of an Ethernet/IPv4/TCP frame of `len` bytes, payload `(tag + i) & 0xff`, checksums left to the device. */
function tcpFrame(len: number, tag: number): Uint8Array {
  const f = new Uint8Array(len);
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00], 0);
  const ip = 14;
  f.set([
    0x45,
    0,
    (len - 14) >>> 8,
    (len - 14) & 0xff,
    0,
    1,
    0x40,
    0,
    64,
    6,
    0,
    0,
    198,
    18,
    0,
    1,
    198,
    18,
    0,
    2,
  ], ip);
  const tcp = ip + 20;
  f.set([0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0], tcp);
  for (let i = tcp + 20; i < len; i++) f[i] = (tag + i) & 0xff;
  return f;
}

/**
 * Writes `frame` into fresh buffers of `zone`, `cuts` bytes each (the last takes the rest), as a
 * chain of transmit records from record 0 of `descs`, asking for both checksums; returns the records.
 */
function chain(zone: MemZone, descs: Uint32Array, frame: Uint8Array, cuts: number[]): number {
  let at = 0;
  let r = 0;
  for (; at < frame.length; r++) {
    const n = r < cuts.length ? Math.min(cuts[r], frame.length - at) : frame.length - at;
    const h = zone.take();
    zone.data(h, zone.headroom, n).set(frame.subarray(at, at + n));
    at += n;
    const flags = (r === 0 ? TxFlag.ipv4 | TxFlag.ipCksum | TxFlag.tcpCksum : 0) |
      (at < frame.length ? TxFlag.more : 0);
    descs.set([h, zone.headroom | (n << 16), flags, r === 0 ? lens : 0], r * DESC_WORDS);
  }
  return r;
}

interface Received {
  records: number;
  flags: number;
  bytes: Uint8Array;
}

/** The frames `dev` delivers by `now`, chains joined; releases their buffers. */
function receive(dev: Device, now: number, max = 64): Received[] {
  const descs = new Uint32Array(max * DESC_WORDS);
  const n = dev.rx(descs, max, now);
  const out: Received[] = [];
  for (let k = 0; k < n;) {
    const parts: Uint8Array[] = [];
    const flags = descs[k * DESC_WORDS + 2];
    let r = 0;
    for (;;) {
      const d = (k + r) * DESC_WORDS;
      parts.push(dev.zone.data(descs[d], descs[d + 1] & 0xffff, descs[d + 1] >>> 16).slice());
      dev.zone.release(descs[d]);
      r++;
      if ((descs[d + 2] & RxFlag.more) === 0) break;
      assert(k + r < n, "a chain cut short by the burst");
    }
    const bytes = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
    parts.reduce((o, p) => (bytes.set(p, o), o + p.length), 0);
    out.push({ records: r, flags, bytes });
    k += r;
  }
  return out;
}

/** `got` is `sent` with the checksums the sending end filled (bytes 24-25 and 50-51). */
function assertSameFrame(got: Uint8Array, sent: Uint8Array): void {
  assertEquals(got.length, sent.length);
  const a = got.slice();
  a.set(sent.subarray(24, 26), 24);
  a.set(sent.subarray(50, 52), 50);
  assertEquals(a, sent, "the frame's bytes");
  // Summed here over the joined bytes, apart from the device's chained sums.
  assertEquals(internetChecksum(got, 14, 34), 0, "the IPv4 header checksum");
  const pseudo = pseudoHeaderSum(0xc6120001, 0xc6120002, 6, got.length - 34);
  assertEquals(internetChecksum(got, 34, got.length, pseudo), 0, "the TCP checksum");
}

function assertNoneInUse(...zones: MemZone[]): void {
  for (const z of zones) assertEquals(z.accounting().inUse, 0, `${z.name}: buffers still in use`);
}

describe("frame chains", () => {
  test("a chain crosses to another zone as a chain of its buffers, checksums filled and found good", () => {
    const za = createHeapZone({ name: "a", count: 32, dataRoom });
    const zb = createHeapZone({ name: "b", count: 32, dataRoom });
    const [a, b] = createMemoryLink({ zone: za, zoneB: zb, mtu: 65521, frameChains: true });
    assertEquals(a.offloads.frameChains, true);
    const descs = new Uint32Array(16 * DESC_WORDS);
    // Odd-length records: the TCP checksum is summed across their boundaries.
    const f = tcpFrame(20_000, 3);
    const records = chain(za, descs, f, [5001, 7001, 3001]);
    assertEquals(a.tx(descs, records, 0), records);
    const [got] = receive(b, 0);
    assertEquals(got.records, 3, "20000 bytes in buffers of 9024");
    assertEquals(got.flags & good, good);
    assertSameFrame(got.bytes, f);
    assertNoneInUse(za, zb);
  });

  test("one zone: the chain's buffers move across as they are", () => {
    const zone = createHeapZone({ count: 32, dataRoom });
    const [a, b] = createMemoryLink({ zone, mtu: 65521, frameChains: true });
    const descs = new Uint32Array(16 * DESC_WORDS);
    const f = tcpFrame(65535, 9);
    const records = chain(zone, descs, f, [9024, 9024, 9024, 9024, 9024, 9024, 9024]);
    const handles = Array.from({ length: records }, (_, r) => descs[r * DESC_WORDS]);
    assertEquals(a.tx(descs, records, 0), records);
    const rx = new Uint32Array(16 * DESC_WORDS);
    assertEquals(b.rx(rx, 16, 0), records);
    assertEquals(Array.from({ length: records }, (_, r) => rx[r * DESC_WORDS]), handles);
    assertEquals(rx[2] & good, good);
    for (let r = 0; r < records; r++) zone.release(rx[r * DESC_WORDS]);
    assertEquals(b.rxCounters.copiedFrames, 0);
    assertNoneInUse(zone);
  });

  test("rx with room for fewer records than a chain holds takes none of it, then all", () => {
    const zone = createHeapZone({ count: 32, dataRoom });
    const [a, b] = createMemoryLink({
      zone,
      zoneB: createHeapZone({ count: 32, dataRoom }),
      frameChains: true,
      mtu: 65521,
    });
    const descs = new Uint32Array(16 * DESC_WORDS);
    const f = tcpFrame(30_000, 1);
    a.tx(descs, chain(zone, descs, f, [9000, 9000, 9000]), 0);
    assertEquals(receive(b, 0, 3).length, 0, "4 records do not fit 3");
    const [got] = receive(b, 0, 4);
    assertSameFrame(got.bytes, f);
    assertNoneInUse(zone, b.zone);
  });

  test("a chain longer than the MTU allows is dropped whole, every buffer released", () => {
    const zone = createHeapZone({ count: 32, dataRoom });
    const [a, b] = createMemoryLink({ zone, mtu: 9000 * 2, frameChains: true });
    const descs = new Uint32Array(16 * DESC_WORDS);
    a.tx(descs, chain(zone, descs, tcpFrame(18_015, 1), [9000, 9000]), 0);
    assertEquals(receive(b, 0).length, 0);
    assertEquals(a.txCounters.droppedOversize, 1);
    assertNoneInUse(zone);
  });

  test("without frame chains a frame longer than the receiver's buffer is dropped, as before", () => {
    const za = createHeapZone({ name: "a", count: 8, dataRoom: 65535 });
    const zb = createHeapZone({ name: "b", count: 8, dataRoom });
    const [a, b] = createMemoryLink({ zone: za, zoneB: zb, mtu: 20_000 });
    const descs = new Uint32Array(4 * DESC_WORDS);
    a.tx(descs, chain(za, descs, tcpFrame(12_000, 1), [12_000]), 0);
    assertEquals(receive(b, 0).length, 0);
    assertEquals(a.txCounters.droppedOversize, 1);
    assertNoneInUse(za, zb);
  });

  test("faults: loss takes a chain whole, duplication copies it whole, corruption is caught by the verdict", () => {
    for (
      const [faults, expect] of [
        [{ loss: 1 }, 0],
        [{ duplicate: 1 }, 2],
        [{ corrupt: 1 }, 1],
      ] as const
    ) {
      const za = createHeapZone({ name: "a", count: 64, dataRoom });
      const zb = createHeapZone({ name: "b", count: 64, dataRoom });
      const [la, b] = createMemoryLink({ zone: za, zoneB: zb, mtu: 65521, frameChains: true });
      const a = new FaultInjector(la, { seed: 5, tx: faults });
      assertEquals(a.offloads.frameChains, true);
      const descs = new Uint32Array(16 * DESC_WORDS);
      const f = tcpFrame(40_001, 7);
      const records = chain(za, descs, f, [9024, 9024, 9024, 9024]);
      assertEquals(a.tx(descs, records, 0), records);
      const got = receive(b, 0);
      assertEquals(got.length, expect, JSON.stringify(faults));
      for (const g of got) {
        assertEquals(g.records, 5);
        if ("corrupt" in faults) {
          assertEquals(a.txCounters.corrupted, 1);
          assertNotEquals(g.flags & good, good, "the flipped bit is caught");
        } else {
          assertEquals(g.flags & good, good);
          assertSameFrame(g.bytes, f);
        }
      }
      a.close();
      b.close();
      assertNoneInUse(za, zb);
    }
  });

  test("faults on receive: a chain is held and reordered whole, and close releases every buffer of it", () => {
    const zone = createHeapZone({ count: 64, dataRoom });
    const [a, lb] = createMemoryLink({
      zone,
      zoneB: createHeapZone({ count: 64, dataRoom }),
      mtu: 65521,
      frameChains: true,
    });
    const b = new FaultInjector(lb, { seed: 3, rx: { reorder: 1, reorderFrames: 1 } });
    const descs = new Uint32Array(16 * DESC_WORDS);
    const f1 = tcpFrame(30_000, 1);
    const f2 = tcpFrame(20_000, 2);
    a.tx(descs, chain(zone, descs, f1, [9024, 9024, 9024]), 0);
    assertEquals(receive(b, 0).length, 0, "held until another frame comes");
    assertEquals(b.held().rx, 4, "the chain's records");
    a.tx(descs, chain(zone, descs, f2, [9024, 9024]), 0);
    const [got] = receive(b, 0);
    assertSameFrame(got.bytes, f1);
    assertEquals(got.records, 4);
    assertEquals(b.held().rx, 3, "the second chain waits for a third");
    b.close();
    a.close();
    assertNoneInUse(zone, lb.zone);
  });
});
