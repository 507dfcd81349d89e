// `luna serve http` keeps a reserve of the zone free for receiving (apps/app.ts ZoneBudget):
// on a server zone too small for every answer at once, connections whose answers would take
// the reserve wait (parked), are resumed by the app's retry once ACKs have freed buffers,
// and every answer arrives whole and right. The budget counts the pool once per loop
// iteration and follows the zone's own takes in between (MemZone.freeCountThisPoll). Two
// stacks on the in-memory link, polled with the real clock.
import { assert, assertEquals } from "@std/assert";
import { appLimitDefaults, createApp } from "../src/apps/mod.ts";
import { createHeapZone, createMemoryLink, createStack } from "../src/mod.ts";
import { describe, test } from "./harness.ts";

describe("http app: zone budget", () => {
  test("answers larger than the zone wait for buffers and arrive whole; the zone never runs dry", async () => {
    const za = createHeapZone({ name: "client", count: 2048 });
    const zb = createHeapZone({ name: "server", count: 256 });
    const [la, lb] = createMemoryLink({ zone: za, zoneB: zb });
    const a = await createStack({ device: la, address: "198.18.0.1/24" });
    const b = await createStack({ device: lb, address: "198.18.0.2/24" });
    const app = createApp("http", b.device.zone, appLimitDefaults);
    b.listen(80, (c) => app.accept(c));
    const conns = 6;
    const n = 300_000;
    const got: { bytes: number; bad: number; head: string; headDone: boolean }[] = [];
    for (let k = 0; k < conns; k++) {
      const r = { bytes: 0, bad: 0, head: "", headDone: false };
      got.push(r);
      a.connect("198.18.0.2", 80, {
        onOpen: (c) => void c.write(new TextEncoder().encode(`GET /bytes/${n} HTTP/1.1\r\nHost: t\r\n\r\n`)),
        onData(c) {
          for (let v = c.peek(); v.length > 0; v = c.peek()) {
            let i = 0;
            while (!r.headDone && i < v.length) {
              r.head += String.fromCharCode(v[i++]);
              if (r.head.endsWith("\r\n\r\n")) r.headDone = true;
            }
            for (; i < v.length; i++, r.bytes++) if (v[i] !== (r.bytes & 255)) r.bad++;
            c.consume(v.length);
          }
        },
      });
    }
    // The reserve: what ZoneBudget keeps free (a sixteenth of the zone, at least 64 buffers).
    const reserve = Math.max(64, Math.ceil(zb.capacity / 16));
    let lowest = zb.capacity;
    const end = performance.now() + 20_000;
    for (let i = 0; got.some((r) => r.bytes < n) && performance.now() < end; i++) {
      a.poll();
      b.poll();
      app.retry();
      lowest = Math.min(lowest, zb.freeCount());
      if ((i & 63) === 63) await new Promise((r) => setImmediate(r));
    }
    for (const [k, r] of got.entries()) {
      assert(r.head.startsWith("HTTP/1.1 200 OK\r\n"), `connection ${k}: ${r.head}`);
      assertEquals(r.bytes, n, `connection ${k}: the whole body`);
      assertEquals(r.bad, 0, `connection ${k}: every byte the pattern's`);
    }
    const s = app.stats();
    assert(s.parked > 0, "answers waited for buffers");
    assertEquals(s.responses2xx, conns);
    // The stack's receive path may take buffers below the app's reserve; the app's writes may not
    // take it all: some of the zone stayed free throughout.
    assert(lowest > 0, `the zone ran dry (lowest free ${lowest}, reserve ${reserve})`);
    await a.close(100);
    await b.close(100);
    assertEquals(zb.accounting().inUse, 0, "every buffer back (server)");
  });
});
