// The connection table: a keyed hash (HalfSipHash-1-3) over typed arrays,
// checked against a Map, and against hash flooding: tuples chosen to collide
// under one key make long runs there and none under a key nobody knows.
import { assert, assertEquals } from "@std/assert";
import { halfSipHash13, longProbeMin, TupleTable } from "../src/tcp/tuple_table.ts";
import { describe, test } from "./harness.ts";
import { Random } from "../src/util/random.ts";

describe("tcp tuple table", () => {
  test("adds, finds, renumbers and deletes as a Map does, through growth and backward-shift deletion", () => {
    const rnd = new Random(7);
    const t = new TupleTable({ key: [1, 2] });
    const model = new Map<string, number>();
    const tuples: [number, number, number][] = [];
    for (let i = 0; i < 3000; i++) {
      tuples.push([0xc6120000 + (rnd.next() & 0xff), rnd.next() & 0xffff, 80 + (i & 3)]);
    }
    let id = 0;
    for (let op = 0; op < 20_000; op++) {
      const [ip, rp, lp] = tuples[rnd.next() % tuples.length];
      const k = `${ip}:${rp}:${lp}`;
      if (model.has(k) && (rnd.next() & 3) === 0) {
        // A new id for an entry in place (the TIME-WAIT ring moving a record).
        assert(t.set(ip, rp, lp, id));
        model.set(k, id++);
      } else if (model.has(k) && (rnd.next() & 1) === 0) {
        assertEquals(t.delete(ip, rp, lp), model.get(k));
        model.delete(k);
      } else if (!model.has(k)) {
        assert(!t.set(ip, rp, lp, id), "set finds no entry that is not there");
        t.add(ip, rp, lp, id);
        model.set(k, id++);
      }
      const [qi, qr, ql] = tuples[rnd.next() % tuples.length];
      assertEquals(t.get(qi, qr, ql), model.get(`${qi}:${qr}:${ql}`) ?? -1);
    }
    assertEquals(t.size, model.size);
    for (const [k, v] of model) {
      const [ip, rp, lp] = k.split(":").map(Number);
      assertEquals(t.get(ip, rp, lp), v);
    }
  });

  test("hash flooding: 400 tuples chosen to collide under a known key walk long runs there, not under a secret one", () => {
    const known: [number, number] = [0x01020304, 0x05060708];
    // Offline, as an attacker would: tuples whose hash under the known key ends in ten zero bits
    // (one slot of a 1024-slot table, and of every smaller one on the way there).
    const chosen: [number, number][] = [];
    for (let ip = 0xc6120000; chosen.length < 400; ip++) {
      const ports = ((80 << 16) | 40000) >>> 0;
      if ((halfSipHash13(known[0], known[1], ip, ports) & 1023) === 0) chosen.push([ip, ports]);
    }
    const probesPerLookup = (t: TupleTable) => {
      chosen.forEach(([ip, ports], i) => t.add(ip, ports & 0xffff, ports >>> 16, i));
      const before = t.probes;
      const lookups = t.lookups;
      for (const [ip, ports] of chosen) t.get(ip, ports & 0xffff, ports >>> 16);
      return (t.probes - before) / (t.lookups - lookups);
    };
    const flooded = new TupleTable({ key: known });
    const secret = new TupleTable();
    const bad = probesPerLookup(flooded);
    const good = probesPerLookup(secret);
    assert(bad > 100, `probes per lookup under the known key: ${bad}`);
    assert(flooded.longProbes > 0, "long lookups are counted");
    assert(good < 4, `probes per lookup under a secret key: ${good}`);
    assertEquals(secret.longProbes, 0);
    assert(longProbeMin < bad);
  });

  test("HalfSipHash-1-3 depends on every bit of key and input", () => {
    const base = halfSipHash13(0x11111111, 0x22222222, 0xc6120001, 0x00501f90);
    for (let b = 0; b < 32; b++) {
      const bit = (1 << b) >>> 0;
      assert(halfSipHash13(0x11111111 ^ bit, 0x22222222, 0xc6120001, 0x00501f90) !== base, `k0 bit ${b}`);
      assert(halfSipHash13(0x11111111, 0x22222222 ^ bit, 0xc6120001, 0x00501f90) !== base, `k1 bit ${b}`);
      assert(
        halfSipHash13(0x11111111, 0x22222222, (0xc6120001 ^ bit) >>> 0, 0x00501f90) !== base,
        `m0 bit ${b}`,
      );
      assert(
        halfSipHash13(0x11111111, 0x22222222, 0xc6120001, (0x00501f90 ^ bit) >>> 0) !== base,
        `m1 bit ${b}`,
      );
    }
  });
});
