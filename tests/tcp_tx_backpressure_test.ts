// A device that takes no frames for a while (a full ring, a peer that does
// not drain it): the IP layer's transmit batch fills, and the TCP layer must
// hold its ACKs back rather than push frames that would be dropped; once the
// device takes frames again every ACK's news arrives and nothing was lost.
import { assertEquals, assertGreater } from "@std/assert";
import { createMemoryLink } from "../src/device/mod.ts";
import { createHeapZone } from "../src/mem/mod.ts";
import type { Tcb } from "../src/tcp/tcb.ts";
import { State } from "../src/tcp/state.ts";
import { describe, test } from "./harness.ts";
import { addrA, addrB, Clock, Host } from "./sim.ts";
import { attachTcp } from "./tcp_sim.ts";
import { WrappedDevice } from "./wrapped_device.ts";

/**
 * Passes everything through, except that while `choked` its tx takes nothing, and that it takes
 * at most `perTick` frames (records) at each moment of the virtual clock: a ring that the peer
 * drains at a fixed rate, slower than the sender fills it.
 */
class Choke extends WrappedDevice {
  choked = false;
  perTick = Infinity;
  #tick = -1;
  #left = 0;
  override tx(descs: Uint32Array, n: number, now: number): number {
    if (this.choked) return 0;
    if (now !== this.#tick) {
      this.#tick = now;
      this.#left = this.perTick;
    }
    const k = this.inner.tx(descs, Math.min(n, this.#left), now);
    this.#left -= k;
    return k;
  }
}

/**
 * Hosts A and B on the in-memory link, B listening on port 80 and counting what it reads, A
 * connecting `writers` times; `choked` says whose device is wrapped in the {@link Choke}.
 */
function connected(
  choked: "a" | "b",
  countA: number,
  countB: number,
  writers: number,
  onRead?: (c: Tcb, n: number) => void,
) {
  const za = createHeapZone({ name: "a", count: countA });
  const zb = createHeapZone({ name: "b", count: countB });
  const [la, lb] = createMemoryLink({ zone: za, zoneB: zb, delayMs: 0.05, queueLimit: 8192 });
  const choke = new Choke(choked === "a" ? la : lb);
  const a = new Host(za, choked === "a" ? choke : la, addrA);
  const b = new Host(zb, choked === "b" ? choke : lb, addrB);
  const clock = new Clock([a, b]);
  const ta = attachTcp(a);
  const tb = attachTcp(b);
  const got = { bytes: 0 };
  const buf = new Uint8Array(65536);
  tb.listen(80, () => ({
    onData(c: Tcb) {
      for (let n = tb.read(c, buf, clock.now); n > 0; n = tb.read(c, buf, clock.now)) {
        got.bytes += n;
        onRead?.(c, n);
      }
    },
  }), 1024);
  const conns: Tcb[] = [];
  for (let i = 0; i < writers; i++) conns.push(ta.connect(addrB, 80, {}, clock.now));
  clock.runUntil(
    () => tb.counters.currEstab === writers && conns.every((c) => c.state === State.established),
    1000,
  );
  return { a, b, clock, ta, tb, choke, got, conns };
}

describe("tcp transmit backpressure", () => {
  test("while the device takes nothing, ACKs wait instead of being dropped; the senders never time out", () => {
    // 600 writers of 25 KB each: a zone whose half, split among them (each connection's send
    // share, pool_pressure.ts), still takes every write whole. B owes an ACK per connection and
    // receive burst (input.ts), so it takes this many connections to fill its transmit batch.
    const bytes = 25_000;
    const writers = 600;
    const { b, clock, ta, tb, choke, got, conns } = connected("b", 32768, 16384, writers);
    const payload = new Uint8Array(bytes).fill(9);
    const timeoutsBefore = ta.counters.retransTimeouts;
    // Choke B's transmit side, then let the data pour in: its ACKs pile up.
    choke.choked = true;
    for (const c of conns) assertEquals(ta.write(c, payload, clock.now), bytes);
    clock.run(20);
    assertGreater(tb.counters.acksDeferred, 0, "ACKs were held back");
    choke.choked = false;
    const done = clock.runUntil(
      () => got.bytes === writers * bytes && conns.every((c) => c.flight === 0),
      60_000,
    );
    assertEquals(done, true, `received ${got.bytes} of ${writers * bytes}`);
    assertEquals(b.ip.counters.linkTxDropped, 0, "B dropped no frame on the way out");
    assertEquals(
      ta.counters.retransTimeouts - timeoutsBefore,
      0,
      "no sender waited for a retransmission timeout",
    );
  });
});

describe("tcp transmit backpressure: data", () => {
  test("while the device takes nothing, data and loss probes wait instead of being dropped; all of it arrives", () => {
    // 256 connections each answer 64 KiB at once (the bench's storage64k at 256 connections)
    // while A's device refuses frames, as a full ring does while the peer is slow: A's transmit
    // batch fills, and the probe timeouts of the flights in it fire. Nothing may be dropped.
    const bytes = 65536;
    const writers = 256;
    const { a, clock, ta, choke, got, conns } = connected("a", 32768, 32768, writers);
    // A round trip or two first, so that the probe timeouts are short (2 SRTT + 2 ms).
    const small = new Uint8Array(100).fill(1);
    for (const c of conns) assertEquals(ta.write(c, small, clock.now), small.length);
    clock.runUntil(() => conns.every((c) => c.flight === 0), 1000);
    const timeoutsBefore = ta.counters.retransTimeouts;
    const payload = new Uint8Array(bytes).fill(9);
    for (const c of conns) assertEquals(ta.write(c, payload, clock.now), bytes);
    // The device refuses frames for 30 ms at a time (several probe timeouts: the round trips of
    // the start made SRTT a few ms), taking them again for 0.5 ms between.
    for (let k = 0; k < 20 && !conns.every((c) => c.flight === 0 && c.sendq.bytes === 0); k++) {
      choke.choked = true;
      clock.run(30);
      choke.choked = false;
      clock.run(0.5);
    }
    const done = clock.runUntil(
      () => got.bytes === writers * (bytes + small.length) && conns.every((c) => c.flight === 0),
      60_000,
    );
    assertEquals(done, true, `received ${got.bytes} of ${writers * (bytes + small.length)}`);
    assertEquals(a.ip.counters.linkTxDropped, 0, "A dropped no frame on the way out");
    assertGreater(ta.counters.probesHeld, 0, "probe timeouts fired while the device was behind");
    assertEquals(ta.counters.retransTimeouts - timeoutsBefore, 0, "no retransmission timeout");
  });
});

describe("tcp transmit backpressure: fairness", () => {
  test("connections waiting for a slow device take turns: in a closed loop of 64 KiB answers none starves", () => {
    // The bench's storage RPC at a smaller scale: 64 connections, each answering 64 KiB again as
    // soon as the peer has read the last answer whole, through a device that takes 64 frames per
    // moment of the clock (under a tenth of what is owed at once), so that it is behind nearly
    // all the time. The room it makes must go round the waiting connections in turn: taken by
    // whichever connection an ACK or a new answer woke, it went to a few, over and over.
    const bytes = 65536;
    const writers = 64;
    const rounds = 8;
    const done = new Map<number, number>(); // answers read whole, by A's port
    const have = new Map<number, number>();
    const owed: number[] = []; // A's ports whose next answer is to be written
    const { a, clock, ta, choke, conns } = connected("a", 32768, 32768, writers, (c, n) => {
      const got = (have.get(c.remotePort) ?? 0) + n;
      have.set(c.remotePort, got % bytes);
      if (got >= bytes) {
        done.set(c.remotePort, (done.get(c.remotePort) ?? 0) + 1);
        owed.push(c.remotePort);
      }
    });
    choke.perTick = 64;
    for (const c of conns) c.noDelay = true; // as the bench's server: no answer's tail waits for an ACK
    const byPort = new Map(conns.map((c) => [c.localPort, c]));
    const payload = new Uint8Array(bytes).fill(9);
    for (const c of conns) assertEquals(ta.write(c, payload, clock.now), bytes);
    let total = 0;
    const finished = clock.runUntil(() => {
      // The answers owed are written between the hosts' steps, as a server's handler would.
      for (const port of owed.splice(0)) {
        total++;
        assertEquals(ta.write(byPort.get(port)!, payload, clock.now), bytes);
      }
      return total >= writers * rounds;
    }, 60_000);
    assertEquals(finished, true, `${total} answers of ${writers * rounds} in 60 s`);
    const counts = conns.map((c) => done.get(c.localPort) ?? 0);
    const least = Math.min(...counts);
    const most = Math.max(...counts);
    // In turn, each connection's answers complete about once a round: a few apart at most (taken
    // by whoever was woken, from 1 to 25 answers per connection).
    const spread = `answers per connection from ${least} to ${most}: ${counts.join(" ")}`;
    assertGreater(least + 3, most, spread);
    assertGreater(least, rounds - 3, spread);
    assertGreater(ta.counters.txWaits, 0, "connections waited for the device");
    assertEquals(a.ip.counters.linkTxDropped, 0, "A dropped no frame on the way out");
  });
});
