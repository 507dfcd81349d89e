// A closed connection's control block serves the next one (connections.ts recycle), when its
// application gives it back: reset, it is the same as a new one in every field; the connection
// that gave it back reads as closed, never as the connection that took it over.
import { assert, assertEquals } from "@std/assert";
import { type Connection, createHeapZone, createMemoryLink, createStack } from "../src/mod.ts";
import { type CongestionName, createCongestionControl } from "../src/tcp/congestion.ts";
import type { NewReno } from "../src/tcp/newreno.ts";
import { RtoEstimator } from "../src/tcp/rto.ts";
import { Tcb } from "../src/tcp/tcb.ts";
import { describe, test } from "./harness.ts";

/** Own fields of `a` and `b` that differ, by path (the queues, stats and RTO estimator looked into). */
function differences(a: object, b: object, path = "tcb"): string[] {
  const out: string[] = [];
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  if (ka.join() !== kb.join()) out.push(`${path}: fields ${ka.join()} against ${kb.join()}`);
  for (const k of ka) {
    const va = (a as Record<string, unknown>)[k];
    const vb = (b as Record<string, unknown>)[k];
    if (k === "stats" || k === "sendq" || k === "recvq" || k === "rto" || (k === "_hystart" && va && vb)) {
      out.push(...differences(va as object, vb as object, `${path}.${k}`));
    } else if (!Object.is(va, vb)) out.push(`${path}.${k}: ${String(va)} against ${String(vb)}`);
  }
  return out;
}

/** Every number, boolean and unset field of `o` changed (what a connection's life leaves behind). */
function scribble(o: Record<string, unknown>, skip: string[]): void {
  for (const k of Object.keys(o)) {
    if (skip.includes(k)) continue;
    const v = o[k];
    if (typeof v === "number") o[k] = v + 12345;
    else if (typeof v === "boolean") o[k] = !v;
    else if (v === undefined) o[k] = { left: "behind" };
  }
}

describe("tcp control block recycling", () => {
  test("a reset control block equals a new one in every field, whatever its last connection left", () => {
    const zone = createHeapZone({ name: "r", count: 64 });
    const cc = createCongestionControl("newreno", 536);
    const rtoOf = () => new RtoEstimator({ minMs: 200, maxMs: 60_000, initialMs: 1000 });
    const bufs = { snd: 65536, sndMax: 4 << 20, rcv: 131072 };
    const used = new Tcb(3, zone, { ip: 1, port: 80 }, { ip: 2, port: 40000 }, false, rtoOf(), cc, bufs);
    scribble(used as unknown as Record<string, unknown>, [
      "stats",
      "sendq",
      "recvq",
      "rto",
      "handlers",
      "cc",
    ]);
    scribble(used.stats as unknown as Record<string, unknown>, []);
    used.rto.sample(30);
    used.rto.backoffCount = 3;
    for (const q of [used.sendq, used.recvq]) {
      // Bytes that came and went: the queues' running counts moved on.
      const h = zone.take();
      q.push(h, zone.dataStart(h), 100);
      q.consume(100);
    }
    used.sendq.find(0);
    const bufs2 = { snd: 1000, sndMax: 2000, rcv: 3000 };
    used.reset(7, { ip: 5, port: 81 }, { ip: 6, port: 40001 }, true, 1000, cc, bufs2);
    const fresh = new Tcb(7, zone, { ip: 5, port: 81 }, { ip: 6, port: 40001 }, true, rtoOf(), cc, bufs2);
    assertEquals(differences(used, fresh), []);
    assertEquals(zone.freeCount(), zone.capacity, "the queues hold no buffer");
  });

  test("a reset congestion controller (NewReno, CUBIC, HyStart++ on and off) equals a new one in every field", () => {
    for (const name of ["newreno", "cubic"] as CongestionName[]) {
      for (const [before, after] of [[true, true], [false, true], [true, false], [false, false]]) {
        const used = createCongestionControl(name, 1460, { sack: true, hystart: before }) as NewReno;
        const fields = used as unknown as Record<string, unknown>;
        scribble(fields, ["_hystart", "_iwRule"]);
        if (fields._hystart !== undefined) scribble(fields._hystart as Record<string, unknown>, []);
        const options = { sack: false, hystart: after, initialWindow: "rfc5681" as const };
        used.reset(1000, options);
        const fresh = createCongestionControl(name, 1000, options);
        assertEquals(differences(used, fresh, `${name} ${before}/${after}`), []);
      }
    }
  });

  test("connections whose app gives them back: later ones take their control blocks; the old handle reads as closed", async () => {
    const [la, lb] = createMemoryLink({
      zone: createHeapZone({ name: "a", count: 1024 }),
      zoneB: createHeapZone({ name: "b", count: 1024 }),
    });
    const server = await createStack({ device: la, address: "198.18.0.1/24", mode: "batch" });
    const client = await createStack({ device: lb, address: "198.18.0.2/24", mode: "inline" });
    const seen = new Set<unknown>();
    let reused = 0;
    let served = 0;
    const old: Connection[] = [];
    server.listen(7, (c) => {
      if (seen.has(c.tcb)) reused++;
      seen.add(c.tcb);
      return {
        onData(c) {
          const v = c.peek();
          c.write(v);
          c.consume(v.length);
          c.close(); // the server closes first: its side goes to TIME-WAIT
        },
        onClose(c, error) {
          assertEquals(error, undefined);
          served++;
          old.push(c);
          c._recycle();
        },
      };
    });
    const total = 200;
    let done = 0;
    let started = 0;
    const echoed: number[] = [];
    const open = () => {
      const i = started++;
      client.connect("198.18.0.1", 7, {
        onOpen(c) {
          c.write(new Uint8Array([i & 0xff, i >> 8]));
        },
        onData(c) {
          const v = c.peek();
          if (v.length >= 2) echoed.push(v[0] | (v[1] << 8));
          c.consume(v.length);
        },
        onEnd(c) {
          c.close();
        },
        onClose() {
          done++;
          if (started < total) open();
        },
      });
    };
    for (let i = 0; i < 4; i++) open();
    const t0 = performance.now();
    for (
      let n = 0;
      (done < total || served < total) && n < 1_000_000 && performance.now() - t0 < 10_000;
      n++
    ) {
      server.poll();
      client.poll();
    }
    assertEquals(done, total);
    assertEquals(served, total);
    assertEquals(
      echoed.sort((a, b) => a - b),
      Array.from({ length: total }, (_, i) => i),
      "each its own answer",
    );
    assert(reused > total / 2, `control blocks reused: ${reused} of ${total}`);
    for (const c of old) {
      assertEquals(c.state, "CLOSED");
      assertEquals(c.readable, 0);
      assertEquals(c.write(new Uint8Array(1)), 0, "a write on a given-back connection goes nowhere");
    }
    await Promise.all([client.close(), server.close()]);
  });
});
