/**
 * Out-of-order reassembly (RFC 9293 3.10.7.4): bounded, zero-copy, with the
 * first-arrived data kept for bytes already held. Sequence numbers start
 * near 2^32. Random tests take their seed from LUNA_SEED when set, and print
 * it on failure.
 */
import { describe, test } from "./harness.ts";
import { prng, seedFromEnv } from "./helpers.ts";
import { assertEquals, assertThrows } from "@std/assert";
import {
  Reassembly,
  ReassemblyBudget,
  ReassemblyResult,
  type ReassemblyRuns,
} from "../src/tcp/reassembly.ts";

const base = 0xffff_fe00; // 512 below the wrap

function at(offset: number): number {
  return (base + offset) >>> 0;
}

/** A queue whose released handles are recorded. */
function make(bytesMax = 1 << 20, budget?: ReassemblyBudget, segmentsMax?: number) {
  const released: number[] = [];
  const q = new Reassembly({ bytesMax, budget, segmentsMax, release: (h) => released.push(h) });
  return { q, released };
}

function entries(q: Reassembly): number[][] {
  const r: number[][] = [];
  for (let i = 0; i < q.count; i++) {
    r.push([(q.seqAt(i) - base) >>> 0, (q.endAt(i) - base) >>> 0, q.handleAt(i), q.offsetAt(i)]);
  }
  return r;
}

/** Pops everything contiguous from `rcvNxt`: [seq, len, handle, offset] per piece. */
function drain(q: Reassembly, rcvNxt: number): number[][] {
  const r: number[][] = [];
  while (q.pop(rcvNxt)) {
    r.push([(q.outSeq - base) >>> 0, q.outLen, q.outHandle, q.outOffset]);
    rcvNxt = (rcvNxt + q.outLen) >>> 0;
  }
  return r;
}

/** The queue's runs, relative to `base`. */
function runsOf(r: ReassemblyRuns): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < r.count; i++) out.push([r.seqAt(i), r.endAt(i)]);
  return out;
}

/** The entries merged where adjacent: what the runs must be. */
function mergedEntries(q: Reassembly): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < q.count; i++) {
    const last = out[out.length - 1];
    if (last !== undefined && last[1] === q.seqAt(i)) last[1] = q.endAt(i);
    else out.push([q.seqAt(i), q.endAt(i)]);
  }
  return out;
}

describe("tcp reassembly", () => {
  test("RFC 9293 (3.10.7.4): segments beyond RCV.NXT wait and come out in order once the gap fills", () => {
    const { q } = make();
    assertEquals(q.insert(at(1000), 500, 2, 54), ReassemblyResult.stored);
    assertEquals(q.insert(at(500), 500, 1, 54), ReassemblyResult.stored);
    assertEquals(drain(q, at(0)), []); // the gap [0, 500) is still open
    assertEquals(drain(q, at(500)), [[500, 500, 1, 54], [1000, 500, 2, 54]]);
    assertEquals([q.count, q.bytes], [0, 0]);
  });

  test("RFC 9293 (3.4): for bytes already held the first-arrived data is kept; the newcomer is trimmed", () => {
    const { q } = make();
    q.insert(at(100), 100, 1, 0); // [100, 200)
    q.insert(at(300), 100, 2, 0); // [300, 400)
    assertEquals(q.insert(at(150), 200, 3, 1000), ReassemblyResult.stored); // [150, 350) -> [200, 300)
    assertEquals(entries(q), [[100, 200, 1, 0], [200, 300, 3, 1050], [300, 400, 2, 0]]);
    assertEquals(q.bytes, 300);
  });

  test("entries a new segment covers entirely are replaced and released, so it stays one piece", () => {
    const { q, released } = make();
    q.insert(at(200), 50, 1, 0);
    q.insert(at(300), 50, 2, 0);
    assertEquals(q.insert(at(100), 400, 3, 0), ReassemblyResult.stored);
    assertEquals(entries(q), [[100, 500, 3, 0]]);
    assertEquals(released, [1, 2]);
    assertEquals(q.bytes, 400);
  });

  test("a segment whose every byte is held already is a duplicate, and nothing is taken", () => {
    const { q, released } = make();
    q.insert(at(100), 100, 1, 0);
    q.insert(at(200), 100, 2, 0);
    assertEquals(q.insert(at(100), 100, 3, 0), ReassemblyResult.duplicate); // the same range
    assertEquals(q.insert(at(120), 50, 4, 0), ReassemblyResult.duplicate); // inside one
    assertEquals(q.insert(at(150), 100, 5, 0), ReassemblyResult.duplicate); // across two adjacent
    assertEquals(q.insert(at(100), 200, 6, 0), ReassemblyResult.duplicate); // exactly both
    assertEquals(q.insert(at(300), 0, 7, 0), ReassemblyResult.duplicate);
    assertEquals([released, q.count], [[], 2]);
  });

  test("the per-connection byte limit refuses a segment; nothing is taken", () => {
    const { q, released } = make(1000);
    assertEquals(q.insert(at(100), 600, 1, 0), ReassemblyResult.stored);
    assertEquals(q.insert(at(800), 500, 2, 0), ReassemblyResult.refused);
    assertEquals(q.insert(at(800), 400, 3, 0), ReassemblyResult.stored);
    assertEquals([q.bytes, released], [1000, []]);
  });

  test("the stack's shared budget bounds all connections together", () => {
    const budget = new ReassemblyBudget(1500);
    const a = make(1000, budget).q;
    const b = make(1000, budget).q;
    assertEquals(a.insert(at(100), 1000, 1, 0), ReassemblyResult.stored);
    assertEquals(b.insert(at(100), 600, 2, 0), ReassemblyResult.refused);
    assertEquals(b.insert(at(100), 500, 3, 0), ReassemblyResult.stored);
    assertEquals([budget.bytesUsed, budget.bytesFree], [1500, 0]);
    drain(a, at(100));
    assertEquals(budget.bytesUsed, 500);
    b.clear();
    assertEquals(budget.bytesUsed, 0);
  });

  test("the entry limit refuses a segment that needs a new entry", () => {
    const { q } = make(1 << 20, undefined, 2);
    q.insert(at(100), 10, 1, 0);
    q.insert(at(200), 10, 2, 0);
    assertEquals(q.insert(at(300), 10, 3, 0), ReassemblyResult.refused);
    // Replacing both entries with one is fine.
    assertEquals(q.insert(at(50), 200, 4, 0), ReassemblyResult.stored);
    assertEquals(q.count, 1);
  });

  test("pop trims what RCV.NXT already passed and releases entries it passed entirely", () => {
    const { q, released } = make();
    q.insert(at(100), 100, 1, 0);
    q.insert(at(200), 100, 2, 500);
    assertEquals(drain(q, at(250)), [[250, 50, 2, 550]]);
    assertEquals(released, [1]);
    assertEquals([q.bytes, q.count], [0, 0]);
  });

  test("sequence numbers across the 2^32 wrap reassemble in order", () => {
    const { q } = make();
    q.insert(0x0000_0100, 0x100, 3, 0); // after the wrap
    q.insert(0xffff_ff00, 0x100, 1, 0); // [2^32 - 256, 2^32)
    q.insert(0x0000_0000, 0x100, 2, 0); // [0, 256)
    const out: number[][] = [];
    let rcvNxt = 0xffff_ff00;
    while (q.pop(rcvNxt)) {
      out.push([q.outSeq, q.outLen, q.outHandle]);
      rcvNxt = (rcvNxt + q.outLen) >>> 0;
    }
    assertEquals(out, [[0xffff_ff00, 256, 1], [0, 256, 2], [256, 256, 3]]);
    assertEquals(rcvNxt, 0x200);
  });

  test("clear releases every entry", () => {
    const { q, released } = make();
    q.insert(at(100), 10, 7, 0);
    q.insert(at(300), 10, 8, 0);
    q.clear();
    assertEquals([released, q.count, q.bytes], [[7, 8], 0, 0]);
  });

  test("runs: the held bytes as maximal ranges, merged as holes fill and cut as pops take entries", () => {
    const { q } = make();
    const rel = () => runsOf(q.runs).map(([s, e]) => [(s - base) >>> 0, (e - base) >>> 0]);
    q.insert(at(300), 100, 1, 0);
    q.insert(at(100), 100, 2, 0);
    q.insert(at(500), 100, 3, 0);
    assertEquals(rel(), [[100, 200], [300, 400], [500, 600]]);
    q.insert(at(400), 100, 4, 0); // bridges two runs
    assertEquals(rel(), [[100, 200], [300, 600]]);
    q.insert(at(150), 200, 5, 0); // trimmed to [200, 300): one run
    assertEquals(rel(), [[100, 600]]);
    assertEquals(drain(q, at(100)).length, 5);
    assertEquals(rel(), []);
  });

  test("a queue kept near its entry limit, one entry out and one in, stays in order (its head index moves on and comes back)", () => {
    const { q, released } = make(1 << 30, undefined, 4);
    // Entries of 100 bytes with a hole of 100 before each: [100, 200), [300, 400), ...
    let next = 100;
    let rcvNxt = 0;
    for (let round = 0; round < 50; round++) {
      while (q.count < 4) {
        assertEquals(q.insert(at(next), 100, next, 0), ReassemblyResult.stored);
        next += 200;
      }
      assertEquals(q.insert(at(next), 100, next, 0), ReassemblyResult.refused);
      // The hole before the first entry fills in order: that entry, and only it, comes out.
      rcvNxt += 100;
      assertEquals(drain(q, at(rcvNxt)), [[rcvNxt, 100, rcvNxt, 0]]);
      rcvNxt += 100;
      assertEquals(q.count, 3);
      const want = [0, 1, 2].map((k) => [at(rcvNxt + 100 + 200 * k), at(rcvNxt + 200 + 200 * k)]);
      assertEquals(runsOf(q.runs), want);
      assertEquals(entries(q).map((e) => e[0]), [0, 1, 2].map((k) => rcvNxt + 100 + 200 * k));
    }
    assertEquals(released, []);
  });

  test("segmentsMax must be at least 1", () => {
    assertThrows(() => new Reassembly({ bytesMax: 1, segmentsMax: 0, release: () => {} }), RangeError);
  });

  test("random segments agree with a byte map; every handle reference is accounted for", () => {
    const seed = seedFromEnv();
    const rand = prng(seed);
    const why = `seed=${seed} (rerun with LUNA_SEED=${seed})`;
    for (let round = 0; round < 150; round++) {
      const start = (Math.floor(rand() * 0x1_0000_0000) | 0xffff_f000) >>> 0; // near the wrap
      const window = 2000;
      const budget = new ReassemblyBudget(100_000);
      const refs = new Map<number, number>(); // handle -> references held by the queue
      const q = new Reassembly({
        bytesMax: 1500,
        budget,
        segmentsMax: 16,
        release: (h) => {
          const n = refs.get(h) ?? 0;
          if (n <= 0) throw new Error(`${why}: handle ${h} released more than taken`);
          refs.set(h, n - 1);
        },
      });
      const segStart: number[] = []; // handle -> offset (from start) of the segment's first byte
      const segEnd: number[] = [];
      const held = new Uint8Array(window); // which offsets the queue holds
      let rcvNxt = 0;
      for (let step = 0; step < 90; step++) {
        if (rand() < 0.75) {
          const s = rcvNxt + Math.floor(rand() * (window - rcvNxt));
          const len = Math.min(window - s, 1 + Math.floor(rand() * 300));
          const h = segStart.length;
          segStart.push(s);
          segEnd.push(s + len);
          // The offset names the segment's own first byte, so offset + k is byte s + k.
          const r = q.insert((start + s) >>> 0, len, h, 10_000 + s);
          let fresh = 0;
          for (let x = s; x < s + len; x++) if (!held[x]) fresh++;
          if (r === ReassemblyResult.stored) {
            refs.set(h, 1);
            for (let x = s; x < s + len; x++) held[x] = 1;
          } else if (r === ReassemblyResult.duplicate) {
            assertEquals(fresh, 0, `${why}: duplicate with new bytes`);
          }
        } else {
          while (q.pop((start + rcvNxt) >>> 0)) {
            assertEquals(q.outSeq, (start + rcvNxt) >>> 0, why);
            const h = q.outHandle;
            // The piece lies inside its segment, and its offset names its first byte.
            assertEquals(q.outOffset, 10_000 + rcvNxt, `${why}: offset`);
            assertEquals(
              rcvNxt >= segStart[h] && rcvNxt + q.outLen <= segEnd[h],
              true,
              `${why}: piece in segment`,
            );
            refs.set(h, (refs.get(h) ?? 0) - 1); // the reference passes to us
            rcvNxt += q.outLen;
          }
          // In-order data also arrives and is delivered around the queue.
          rcvNxt = Math.min(window, rcvNxt + Math.floor(rand() * 50));
          for (let x = 0; x < rcvNxt; x++) held[x] = 0;
        }
        // The queue holds exactly the map, entries sorted and disjoint, each inside its segment.
        let bytes = 0;
        const map = new Uint8Array(window);
        for (let i = 0; i < q.count; i++) {
          const s = (q.seqAt(i) - start) >>> 0;
          const e = (q.endAt(i) - start) >>> 0;
          const h = q.handleAt(i);
          if (i > 0) assertEquals(s >= ((q.endAt(i - 1) - start) >>> 0), true, `${why}: sorted, disjoint`);
          assertEquals(s >= segStart[h] && e <= segEnd[h], true, `${why}: entry in its segment`);
          assertEquals(q.offsetAt(i), 10_000 + s, `${why}: entry offset`);
          for (let x = s; x < e; x++) map[x] = 1;
          bytes += e - s;
        }
        for (let x = rcvNxt; x < window; x++) assertEquals(map[x], held[x], `${why}: byte ${x}`);
        assertEquals(runsOf(q.runs), mergedEntries(q), `${why}: runs`);
        assertEquals(q.bytes, bytes, why);
        assertEquals(budget.bytesUsed, bytes, why);
        if (q.bytes > 1500 || q.count > 16) throw new Error(`${why}: over its bounds`);
        // Every reference the queue holds is one entry.
        const perHandle = new Map<number, number>();
        for (let i = 0; i < q.count; i++) {
          perHandle.set(q.handleAt(i), (perHandle.get(q.handleAt(i)) ?? 0) + 1);
        }
        for (const [h, n] of refs) {
          assertEquals(perHandle.get(h) ?? 0, n, `${why}: references of handle ${h}`);
        }
      }
      q.clear();
      assertEquals(budget.bytesUsed, 0, why);
      for (const [h, n] of refs) assertEquals(n, 0, `${why}: handle ${h} leaked`);
    }
  });
});
