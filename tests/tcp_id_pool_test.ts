/**
 * Connection ids handed out smallest first (src/tcp/id_pool.ts): against a
 * reference (a plain set of ids in use), seeded from LUNA_SEED when set and
 * printed on failure; the capacity doubles when full and follows the ids in
 * use back down.
 */
import { assert, assertEquals, assertThrows } from "@std/assert";
import { IdPool } from "../src/tcp/id_pool.ts";
import { describe, test } from "./harness.ts";
import { prng, seedFromEnv } from "./helpers.ts";

describe("tcp id pool", () => {
  test("ids come smallest first; a returned id is the next one given", () => {
    const ids = new IdPool(32);
    for (let i = 0; i < 40; i++) assertEquals(ids.take(), i);
    assertEquals([ids.size, ids.end, ids.capacity], [40, 40, 64]);
    ids.give(7);
    ids.give(3);
    ids.give(39);
    assertEquals(ids.end, 39, "the highest id in use is found again");
    assertEquals([ids.take(), ids.take(), ids.take(), ids.take()], [3, 7, 39, 40]);
    assertThrows(() => ids.give(41), RangeError);
    assertThrows(() => ids.give(-1), RangeError);
    ids.give(40);
    assertThrows(() => ids.give(40), RangeError, "not in use");
  });

  test("the capacity doubles when every id is in use and shrinks once those in use lie in its lowest quarter", () => {
    const ids = new IdPool(256);
    const bytes0 = ids.bytes;
    for (let i = 0; i < 100_000; i++) ids.take();
    assertEquals(ids.capacity, 131072);
    // A crowd leaves, highest ids last: the capacity holds until they lie in its lowest quarter.
    let shrank = 0;
    for (let i = 99_999; i >= 1000; i--) if (ids.give(i)) shrank++;
    assertEquals([ids.end, ids.capacity], [1000, 2048]);
    assertEquals(shrank, 6, "halving from 131072 at 32768 in use to 2048 at 1024");
    // Lowest ids leave first: nothing moves while the highest stays.
    for (let i = 0; i < 999; i++) assertEquals(ids.give(i), false);
    assertEquals([ids.size, ids.end, ids.capacity], [1, 1000, 2048]);
    assert(ids.give(999));
    assertEquals([ids.size, ids.end, ids.capacity, ids.bytes], [0, 0, 256, bytes0]);
    assertEquals(ids.take(), 0);
  });

  test("random takes and gives agree with a reference set", () => {
    const seed = seedFromEnv();
    const rand = prng(seed);
    const why = `seed=${seed} (rerun with LUNA_SEED=${seed})`;
    const ids = new IdPool(32);
    const used = new Set<number>();
    for (let step = 0; step < 20_000; step++) {
      // Phases of growth and of decline, so that the capacity goes up and down.
      const growing = Math.floor(step / 2500) % 2 === 0;
      if (used.size === 0 || rand() < (growing ? 0.7 : 0.3)) {
        let lowest = 0;
        while (used.has(lowest)) lowest++;
        assertEquals(ids.take(), lowest, `${why}: step ${step} takes the smallest free id`);
        used.add(lowest);
      } else {
        const list = [...used];
        const id = list[Math.floor(rand() * list.length)];
        ids.give(id);
        used.delete(id);
      }
      const end = used.size === 0 ? 0 : Math.max(...used) + 1;
      assertEquals([ids.size, ids.end], [used.size, end], `${why}: step ${step}`);
      assert(ids.capacity >= end && ids.capacity >= 32, `${why}: capacity ${ids.capacity} for end ${end}`);
      assert(
        ids.capacity <= Math.max(32, 4 * end),
        `${why}: capacity ${ids.capacity} not shrunk for end ${end}`,
      );
    }
  });
});
