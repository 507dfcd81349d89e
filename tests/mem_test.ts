import { assert, assertEquals, assertThrows } from "@std/assert";
import { BufferError, ConfigError, PoolExhaustedError } from "../src/errors.ts";
import { createHeapZone } from "../src/mem/mod.ts";
import { describe, test } from "./harness.ts";

describe("heap zone", () => {
  test("takes every buffer once, then reports exhaustion", () => {
    const zone = createHeapZone({ count: 100 });
    const seen = new Set<number>();
    for (let i = 0; i < 100; i++) seen.add(zone.take());
    assertEquals(seen.size, 100);
    assertEquals(zone.accounting(), { capacity: 100, free: 0, inUse: 100, cached: 0 });
    const e = assertThrows(() => zone.take(), PoolExhaustedError, "exhausted");
    assertEquals(e.capacity, 100);
  });

  test("released buffers are taken again and the accounting balances", () => {
    const zone = createHeapZone({ count: 300 });
    const hs = new Uint32Array(300);
    zone.takeBulk(hs, 300);
    zone.releaseBulk(hs, 300);
    assertEquals(zone.accounting().free, 300);
    zone.takeBulk(hs, 300);
    assertEquals(new Set(hs).size, 300);
    zone.releaseBulk(hs, 300);
    zone.flush();
    assertEquals(zone.accounting(), { capacity: 300, free: 300, inUse: 0, cached: 0 });
  });

  test("takeBulk takes all or nothing", () => {
    const zone = createHeapZone({ count: 10 });
    const hs = new Uint32Array(16);
    zone.takeBulk(hs, 6);
    assertThrows(() => zone.takeBulk(hs.subarray(6), 5), PoolExhaustedError);
    assertEquals(zone.accounting().inUse, 6);
    zone.takeBulk(hs.subarray(6), 4);
    assertEquals(zone.accounting().inUse, 10);
  });

  test("a retained buffer survives one release and is freed by the last", () => {
    const zone = createHeapZone({ count: 4 });
    const h = zone.take();
    zone.retain(h);
    assertEquals(zone.refcount(h), 2);
    zone.release(h);
    assertEquals(zone.refcount(h), 1);
    assertEquals(zone.accounting().inUse, 1);
    zone.release(h);
    assertEquals(zone.refcount(h), 0);
    assertEquals(zone.accounting().inUse, 0);
  });

  test("a double release, a retain after release and a foreign handle are errors", () => {
    const zone = createHeapZone({ count: 4 });
    const h = zone.take();
    zone.release(h);
    assertThrows(() => zone.release(h), BufferError, "released twice");
    assertThrows(() => zone.retain(h), BufferError, "after its release");
    assertThrows(() => zone.release(h + 3), BufferError, "not a buffer handle");
    assertThrows(() => zone.release(1 << 30), BufferError, "not a buffer handle");
  });

  test("data views write through to the zone without copying", () => {
    const zone = createHeapZone({ count: 2, dataRoom: 256, headroom: 64 });
    const h = zone.take();
    const v = zone.data(h, zone.headroom, 8);
    v.set([1, 2, 3, 4, 5, 6, 7, 8]);
    assertEquals(zone.bytes[zone.dataStart(h) + 64 + 7], 8);
    assert(v.buffer === zone.buffer);
    assertThrows(() => zone.data(h, 250, 10), RangeError, "outside");
  });

  test("tryTake returns -1 when nothing is left, instead of throwing", () => {
    const zone = createHeapZone({ count: 3 });
    const got = [zone.tryTake(), zone.tryTake(), zone.tryTake()];
    assertEquals(new Set(got).size, 3);
    assertEquals(zone.tryTake(), -1);
    zone.release(got[0]);
    assertEquals(zone.tryTake(), got[0]);
  });

  test("a closed zone refuses every call with BufferError", () => {
    const zone = createHeapZone({ count: 4 });
    const h = zone.take();
    zone.close();
    assert(zone.closed);
    assertThrows(() => zone.take(), BufferError, "closed");
    assertThrows(() => zone.tryTake(), BufferError, "closed");
    assertThrows(() => zone.release(h), BufferError, "closed");
    assertThrows(() => zone.accounting(), BufferError, "closed");
  });

  test("bad options name the field", () => {
    assertEquals(assertThrows(() => createHeapZone({ count: 0 }), ConfigError).field, "count");
    assertEquals(assertThrows(() => createHeapZone({ count: 4, dataRoom: 10 }), ConfigError).field, "dataRoom");
    assertEquals(
      assertThrows(() => createHeapZone({ count: 4, dataRoom: 256, headroom: 256 }), ConfigError).field,
      "headroom",
    );
  });
});
