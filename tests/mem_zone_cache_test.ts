// The zone's local cache exchanges buffers with its backend without making a
// view of itself: refills enter at its front, spills leave from its back
// (the buffers released last). Refills, spills and a refill the backend
// cannot serve keep every buffer accounted for, and no buffer is handed out
// twice. The count of a poll (freeCountThisPoll) agrees with a fresh count
// wherever only the zone itself moved buffers.
import { assert, assertEquals, assertThrows } from "@std/assert";
import { PoolExhaustedError } from "../src/errors.ts";
import { createHeapZone } from "../src/mem/heap.ts";
import { MemZone, type ZoneBackend } from "../src/mem/zone.ts";
import { describe, test } from "./harness.ts";

describe("mem zone cache", () => {
  test("refills and spills across the cache's size hand out each buffer once and take every one back", () => {
    const zone = createHeapZone({ name: "cache", count: 1000 });
    const held = new Set<number>();
    const take = (n: number) => {
      for (let i = 0; i < n; i++) {
        const h = i % 3 === 0 ? zone.tryTake() : zone.take();
        assert(h >= 0 && !held.has(h), `buffer ${h} handed out twice`);
        held.add(h);
      }
    };
    const release = (n: number) => {
      const list = [...held].slice(0, n);
      for (const h of list) {
        zone.release(h);
        held.delete(h);
      }
    };
    take(700); // refills of 64 and more
    release(650); // past the cache's 512: a spill of half of it
    take(300);
    const bulk = new Uint32Array(200);
    zone.takeBulk(bulk, 200);
    for (const h of bulk) {
      assert(!held.has(h), `buffer ${h} handed out twice`);
      held.add(h);
    }
    assertEquals(zone.accounting().inUse, held.size);
    release(held.size);
    assertEquals(zone.accounting().inUse, 0);
    assertEquals(zone.freeCount(), 1000);
  });

  test("a full cache gives back the buffers released last (still in the CPU's cache) and keeps the older ones", () => {
    const count = 300;
    const stride = 64;
    const free = Array.from({ length: count }, (_, i) => (count - 1 - i) * stride);
    const given: number[] = [];
    const backend: ZoneBackend = {
      takeBulk(out, n) {
        if (free.length < n) return false;
        for (let i = 0; i < n; i++) out[i] = free.pop()!;
        return true;
      },
      giveBulk(handles, n) {
        for (let i = 0; i < n; i++) given.push(handles[i]);
        free.push(...given.slice(-n));
      },
      available: () => free.length,
    };
    const layout = { dataRoomOffset: 16, dataRoomSize: 48, headroom: 0, refcntOffset: 2, cacheSize: 128 };
    const zone = new MemZone(
      { name: "order", buffer: new ArrayBuffer(count * stride), capacity: count, ...layout },
      backend,
    );
    const held: number[] = [];
    for (let i = 0; i < 192; i++) held.push(zone.take()); // three refills of 64: the cache is empty
    for (const h of held.slice(0, 129)) zone.release(h); // the 129th finds the cache full
    assertEquals(given, held.slice(64, 128), "the 64 released last before the spill");
    assertEquals(zone.accounting(), { capacity: count, free: count - 63, inUse: 63, cached: 65 });
    assertEquals(zone.take(), held[128], "the newest still cached is taken first");
    assertEquals(zone.take(), held[63]);
    for (const h of [...held.slice(129), held[128], held[63]]) zone.release(h);
    zone.flush();
    assertEquals(free.length, count);
    assertEquals(new Set(free).size, count, "every buffer back once");
  });

  test("a refill the backend cannot serve keeps the buffers cached; what is left is still handed out", () => {
    const zone = createHeapZone({ name: "cache", count: 600 });
    const held: number[] = [];
    for (let i = 0; i < 599; i++) held.push(zone.take());
    for (let i = 0; i < 5; i++) zone.release(held.pop()!); // five cached, one in the backend
    const out = new Uint32Array(10);
    assertThrows(() => zone.takeBulk(out, 10), PoolExhaustedError);
    assertEquals(zone.freeCount(), 6);
    const got = new Set<number>();
    for (let i = 0; i < 6; i++) got.add(zone.take());
    assertEquals(got.size, 6);
    for (const h of got) assert(!held.includes(h), `buffer ${h} handed out twice`);
    assertThrows(() => zone.take(), PoolExhaustedError);
    assertEquals(zone.tryTake(), -1);
    for (const h of [...held, ...got]) zone.release(h);
    assertEquals(zone.accounting().inUse, 0);
  });

  test("the count of a poll asks the backend once per poll and follows this zone's own takes, releases, refills and spills", () => {
    const count = 300;
    const stride = 64;
    const free = Array.from({ length: count }, (_, i) => (count - 1 - i) * stride);
    let asked = 0;
    const backend: ZoneBackend = {
      takeBulk(out, n) {
        if (free.length < n) return false;
        for (let i = 0; i < n; i++) out[i] = free.pop()!;
        return true;
      },
      giveBulk(handles, n) {
        for (let i = 0; i < n; i++) free.push(handles[i]);
      },
      available: () => (asked++, free.length),
    };
    const layout = { dataRoomOffset: 16, dataRoomSize: 48, headroom: 0, refcntOffset: 2, cacheSize: 128 };
    const zone = new MemZone(
      { name: "poll", buffer: new ArrayBuffer(count * stride), capacity: count, ...layout },
      backend,
    );
    const agrees = () => assertEquals(zone.freeCountThisPoll(), zone.freeCount());
    zone.newPoll();
    assertEquals(zone.freeCountThisPoll(), count);
    assertEquals(zone.freeCountThisPoll(), count);
    assertEquals(asked, 1, "counted once in the poll");
    const held: number[] = [];
    for (let i = 0; i < 70; i++) held.push(zone.take()); // two refills of 64
    agrees();
    for (let i = 0; i < 10; i++) zone.release(held.pop()!); // into the cache
    agrees();
    const before = asked;
    assertEquals(zone.freeCountThisPoll(), count - 60);
    assertEquals(asked, before, "the cache is read live: no count");
    for (const h of held.splice(0)) zone.release(h);
    for (let i = 0; i < 129; i++) held.push(zone.take());
    for (const h of held.splice(0)) zone.release(h); // past the cache's 128: a spill
    agrees();
    // The device takes buffers outside the zone (a receive burst): seen at the next poll.
    const burst = new Uint32Array(8);
    assert(backend.takeBulk(burst, 8));
    assertEquals(zone.freeCountThisPoll(), count, "not before the next poll");
    zone.newPoll();
    assertEquals(zone.freeCountThisPoll(), count - 8);
    backend.giveBulk(burst, 8);
    zone.newPoll();
    agrees();
  });
});
