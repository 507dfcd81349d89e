/**
 * The hashed timing wheel against a reference model (a plain list of
 * deadlines): random arm, cancel, re-arm and advance, seeded from LUNA_SEED
 * when set and printed on failure. Timers never fire early, and fire at the
 * first advance whose `now` reaches them (so never a tick late).
 */
import { describe, test } from "./harness.ts";
import { prng, seedFromEnv } from "./helpers.ts";
import { assertEquals, assertThrows } from "@std/assert";
import { TimerWheel } from "../src/tcp/timer_wheel.ts";



/** Collects fired ids; one function made once, as the loop would. */
function collector(): { fired: number[]; onExpire: (id: number) => void } {
  const fired: number[] = [];
  return { fired, onExpire: (id) => fired.push(id) };
}

describe("tcp timer wheel", () => {
  test("a timer fires at its deadline, not a moment before", () => {
    const wheel = new TimerWheel(8);
    const c = collector();
    wheel.arm(3, 100.5);
    assertEquals(wheel.nextDeadline(), 100.5);
    assertEquals(wheel.advance(100, c.onExpire), 0);
    assertEquals(wheel.advance(100.4, c.onExpire), 0);
    assertEquals(wheel.advance(100.5, c.onExpire), 1);
    assertEquals(c.fired, [3]);
    assertEquals(wheel.isArmed(3), false);
    assertEquals(wheel.nextDeadline(), Infinity);
    assertEquals(wheel.advance(500, c.onExpire), 0);
  });

  test("within a tick already scanned, timers armed into it still fire exactly (advance skips the rescan)", () => {
    const wheel = new TimerWheel(8);
    const c = collector();
    wheel.arm(0, 10.9);
    assertEquals(wheel.advance(10.2, c.onExpire), 0); // scans tick 10: 0 is due at 10.9
    assertEquals(wheel.advance(10.3, c.onExpire), 0);
    wheel.arm(1, 10.5); // into the scanned tick, before 0
    assertEquals(wheel.advance(10.4, c.onExpire), 0);
    assertEquals(wheel.advance(10.5, c.onExpire), 1);
    assertEquals(c.fired, [1]);
    wheel.arm(2, 10.1); // already past, in this tick: the next advance fires it
    assertEquals(wheel.advance(10.5, c.onExpire), 1);
    assertEquals(c.fired, [1, 2]);
    wheel.cancel(0);
    wheel.arm(3, 11.2); // the next tick
    assertEquals(wheel.advance(10.99, c.onExpire), 0);
    assertEquals(wheel.advance(11.2, c.onExpire), 1);
    assertEquals(c.fired, [1, 2, 3]);
    assertEquals(wheel.size, 0);
  });

  test("cancel and re-arm replace the one timer an id has", () => {
    const wheel = new TimerWheel(4);
    const c = collector();
    wheel.arm(1, 50);
    wheel.arm(1, 80); // re-arm: later
    wheel.arm(2, 60);
    wheel.cancel(2);
    wheel.cancel(2); // twice is harmless
    assertEquals(wheel.size, 1);
    assertEquals(wheel.deadlineOf(1), 80);
    assertEquals(wheel.deadlineOf(2), Infinity);
    assertEquals(wheel.nextDeadline(), 80);
    wheel.advance(79, c.onExpire);
    assertEquals(c.fired, []);
    wheel.advance(80, c.onExpire);
    assertEquals(c.fired, [1]);
  });

  test("timers several revolutions away wait for their round", () => {
    const wheel = new TimerWheel(4, { tickMs: 1, slotCount: 64 });
    const c = collector();
    wheel.arm(0, 10 + 64 * 3); // same slot as 10, three rounds later
    wheel.arm(1, 10);
    assertEquals(wheel.nextDeadline(), 10);
    for (let t = 1; t <= 10 + 64 * 3; t++) {
      wheel.advance(t, c.onExpire);
      if (t === 10) assertEquals(c.fired, [1]);
      if (t === 10 + 64 * 3 - 1) assertEquals(c.fired, [1]);
      if (t === 11) assertEquals(wheel.nextDeadline(), 10 + 64 * 3);
    }
    assertEquals(c.fired, [1, 0]);
  });

  test("a jump of many revolutions fires everything due, once", () => {
    const wheel = new TimerWheel(100, { slotCount: 32 });
    const c = collector();
    for (let id = 0; id < 100; id++) wheel.arm(id, id * 37);
    wheel.advance(100_000, c.onExpire);
    assertEquals(c.fired.slice().sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i));
    assertEquals(wheel.size, 0);
  });

  test("a deadline in the past fires at the next advance", () => {
    const wheel = new TimerWheel(2, { now: 1000 });
    const c = collector();
    wheel.arm(0, 5);
    assertEquals(wheel.nextDeadline(), 5);
    wheel.advance(1000, c.onExpire);
    assertEquals(c.fired, [0]);
  });

  test("onExpire may re-arm its own timer and cancel others", () => {
    const wheel = new TimerWheel(4, { slotCount: 32 });
    const fired: Array<[number, number]> = [];
    let now = 0;
    const onExpire = (id: number) => {
      fired.push([id, now]);
      if (id === 0) {
        wheel.arm(0, now + 10); // periodic
        wheel.cancel(1); // due in the same slot scan
      }
    };
    wheel.arm(0, 5);
    wheel.arm(1, 5);
    wheel.arm(2, 5);
    // Make id 1 the next visited after id 0 in the slot list: list order is 2, 1, 0 (head insertion).
    wheel.cancel(0);
    wheel.arm(0, 5);
    now = 5;
    wheel.advance(now, onExpire);
    assertEquals(fired.map(([id]) => id), [0, 2]);
    now = 15;
    wheel.advance(now, onExpire);
    assertEquals(fired, [[0, 5], [2, 5], [0, 15]]);
    assertEquals(wheel.deadlineOf(0), 25);
  });

  test("advance refuses to be called from inside onExpire", () => {
    const wheel = new TimerWheel(1);
    wheel.arm(0, 1);
    assertThrows(() => wheel.advance(2, () => wheel.advance(3, () => {})), Error, "reentrant");
  });

  test("pollDelay says how long the loop may sleep", () => {
    const wheel = new TimerWheel(2, { tickMs: 10, slotCount: 32 });
    assertEquals(wheel.pollDelay(0), Infinity);
    wheel.arm(1, 125);
    assertEquals(wheel.pollAt(), 125);
    assertEquals(wheel.pollDelay(100), 25);
    assertEquals(wheel.pollDelay(200), 0);
  });

  test("resize keeps armed timers and adds ids", () => {
    const wheel = new TimerWheel(2);
    wheel.arm(1, 30);
    wheel.resize(10);
    wheel.arm(9, 20);
    const c = collector();
    wheel.advance(40, c.onExpire);
    assertEquals(c.fired, [9, 1]);
  });

  test("resize shrinks the per-id arrays, keeping the timers below; an armed id above refuses it", () => {
    const wheel = new TimerWheel(1024);
    const full = wheel.bytes;
    wheel.arm(3, 30);
    wheel.arm(700, 10);
    assertThrows(() => wheel.resize(512), RangeError);
    wheel.cancel(700);
    wheel.resize(64);
    assertEquals(full - wheel.bytes, (1024 - 64) * 28, "28 bytes per id fewer");
    assertThrows(() => wheel.arm(64, 10), RangeError);
    assertEquals([wheel.capacity, wheel.size, wheel.deadlineOf(3), wheel.pollAt()], [64, 1, 30, 30]);
    const c = collector();
    wheel.advance(40, c.onExpire);
    assertEquals(c.fired, [3]);
  });

  test("ids outside the wheel are refused when armed, and never armed", () => {
    const wheel = new TimerWheel(4);
    assertThrows(() => wheel.arm(4, 10), RangeError);
    assertThrows(() => wheel.arm(-1, 10), RangeError);
    wheel.cancel(99);
    assertEquals([wheel.isArmed(99), wheel.deadlineOf(99), wheel.size], [false, Infinity, 0]);
  });

  test("slot counts must be powers of two", () => {
    assertThrows(() => new TimerWheel(1, { slotCount: 100 }), RangeError);
    assertThrows(() => new TimerWheel(1, { tickMs: 0 }), RangeError);
  });

  test("random arm/cancel/advance agrees with a reference list", () => {
    const seed = seedFromEnv();
    const rand = prng(seed);
    const why = `seed=${seed} (rerun with LUNA_SEED=${seed})`;
    for (const [tickMs, slotCount] of [[1, 64], [1, 4096], [0.5, 32], [10, 128]]) {
      const n = 200;
      const wheel = new TimerWheel(n, { tickMs, slotCount, now: 0 });
      const ref = new Float64Array(n).fill(Infinity); // the model: each id's deadline
      let now = 0;
      const onExpire = (id: number) => {
        if (!(ref[id] <= now)) throw new Error(`${why}: id ${id} due ${ref[id]} fired early at ${now}`);
        ref[id] = Infinity;
        if (rand() < 0.2) {
          // Re-arm from inside the callback, as a control block with more deadlines does.
          ref[id] = now + 1 + rand() * 300;
          wheel.arm(id, ref[id]);
        }
      };
      for (let step = 0; step < 20_000; step++) {
        const r = rand();
        const id = Math.floor(rand() * n);
        if (r < 0.45) {
          const kind = rand();
          const d = kind < 0.1
            ? now - rand() * 50 // already past
            : kind < 0.2
            ? now + rand() * slotCount * tickMs * 5 // rounds away
            : now + rand() * 200;
          wheel.arm(id, d);
          ref[id] = d;
        } else if (r < 0.6) {
          wheel.cancel(id);
          ref[id] = Infinity;
        } else {
          now += rand() < 0.02 ? rand() * slotCount * tickMs * 3 : rand() * 5 * tickMs;
          wheel.advance(now, onExpire);
          // Nothing due is left: each timer fired at the first advance that reached it.
          for (let i = 0; i < n; i++) {
            if (ref[i] <= now) throw new Error(`${why}: id ${i} due ${ref[i]} not fired at ${now}`);
          }
        }
        let min = Infinity;
        let armed = 0;
        for (let i = 0; i < n; i++) {
          assertEquals(wheel.deadlineOf(i), ref[i], `${why}: deadline of id ${i} at step ${step}`);
          if (ref[i] < min) min = ref[i];
          if (ref[i] !== Infinity) armed++;
        }
        assertEquals(wheel.nextDeadline(), min, `${why}: nextDeadline at step ${step}`);
        assertEquals(wheel.size, armed, why);
      }
    }
  });
});
