// The chunk ring under the send and receive queues: making room ahead of a
// large write or a coalesced segment (reserve) keeps every chunk, in order,
// wherever the ring's head had wrapped to, and releases every buffer once.
import { assertEquals } from "@std/assert";
import { createHeapZone } from "../src/mem/heap.ts";
import { RecvQueue } from "../src/tcp/recv_queue.ts";
import { describe, test } from "./harness.ts";

describe("chunk ring", () => {
  test("reserve keeps the chunks in order across a wrapped head, and every buffer comes back", () => {
    const zone = createHeapZone({ name: "ring", count: 256 });
    const q = new RecvQueue(zone);
    const pushed: number[] = [];
    const push = (n: number) => {
      for (let i = 0; i < n; i++) {
        const h = zone.take();
        const off = zone.dataStart(h) + 7;
        zone.bytes[off] = pushed.length & 0xff;
        q.push(h, off, 1);
        pushed.push(pushed.length & 0xff);
      }
    };
    push(8); // the smallest ring, full
    q.consume(5); // head at 5 of 8
    pushed.splice(0, 5);
    push(4); // 7 of 8: the tail wraps past the ring's end
    q.consume(2);
    pushed.splice(0, 2);
    push(9); // grows to 16 from a wrapped ring: 14 of 16
    q.reserve(14 + 45); // a 64 KiB write's chunks: one growth to 64, not three doublings
    push(45);
    assertEquals(q.chunks, pushed.length);
    const got: number[] = [];
    while (q.chunks > 0) {
      got.push(q.peek()[0]);
      q.consume(1);
    }
    assertEquals(got, pushed);
    assertEquals(zone.accounting().inUse, 0);
  });

  test("reserve within the room it has changes nothing; on an empty queue it makes a ring of that size", () => {
    const zone = createHeapZone({ name: "ring", count: 64 });
    const q = new RecvQueue(zone);
    q.reserve(3);
    for (let i = 0; i < 8; i++) {
      const h = zone.take();
      q.push(h, zone.dataStart(h), 10);
    }
    q.reserve(8);
    assertEquals(q.chunks, 8);
    assertEquals(q.bytes, 80);
    q.clear();
    assertEquals(zone.accounting().inUse, 0);
    q.reserve(33);
    for (let i = 0; i < 33; i++) {
      const h = zone.take();
      q.push(h, zone.dataStart(h), 1);
    }
    assertEquals(q.chunks, 33);
    q.consume(33);
    assertEquals(zone.accounting().inUse, 0);
  });
});
