// Pool pressure: many connections into a stack whose mem zone is small next
// to their receive windows. Received data must not take every buffer the
// answers need: the stack stops widening receive windows while the zone runs
// low, and reopens them when buffers come back (like Linux's tcp_mem). An
// echo server with a 1,024-buffer zone serves 48 clients echoing 512 KB each
// (every window alone could cover 1 MB), on the virtual clock.
import { createHash } from "node:crypto";
import { assertEquals, assertGreater } from "@std/assert";
import type { Tcb } from "../src/tcp/tcb.ts";
import { describe, test } from "./harness.ts";
import { addrB } from "./sim.ts";
import { tcpHosts } from "./tcp_sim.ts";
import { Random } from "../src/util/random.ts";

function run(clients: number, bytes: number, serverBuffers: number) {
  const { ta, tb, clock } = tcpHosts({ buffers: 16384, buffersB: serverBuffers, seed: 3 });

  const buf = new Uint8Array(65536);
  tb.listen(80, () => {
    const echo = (c: Tcb) => {
      for (let v = c.recvq.peek(); v.length > 0; v = c.recvq.peek()) {
        const n = tb.write(c, v, clock.now);
        if (n === 0) return;
        tb.consume(c, n, clock.now);
      }
      if (c.finReceived && c.recvq.bytes === 0) tb.close(c, clock.now);
    };
    return { onData: echo, onWritable: echo, onEnd: echo };
  });

  const payload = new Uint8Array(bytes);
  const r = new Random(11);
  for (let i = 0; i < bytes; i++) payload[i] = r.next() & 0xff;
  const want = createHash("sha256").update(payload).digest("hex");
  const got: { sent: number; hash: ReturnType<typeof createHash>; received: number; closed: boolean; error?: string }[] = [];
  for (let i = 0; i < clients; i++) {
    const s = { sent: 0, hash: createHash("sha256"), received: 0, closed: false, error: undefined as string | undefined };
    got.push(s);
    const pump = (c: Tcb) => {
      while (s.sent < bytes) {
        const n = ta.write(c, payload.subarray(s.sent, Math.min(bytes, s.sent + 16384)), clock.now);
        if (n === 0) return;
        s.sent += n;
      }
      ta.close(c, clock.now);
    };
    ta.connect(addrB, 80, {
      onOpen: pump,
      onWritable: pump,
      onData: (c) => {
        for (let n = ta.read(c, buf, clock.now); n > 0; n = ta.read(c, buf, clock.now)) {
          s.hash.update(buf.subarray(0, n));
          s.received += n;
        }
      },
      onClose: (_c, e) => {
        s.closed = true;
        s.error = e;
      },
    }, clock.now);
  }
  const done = clock.runUntil(() => got.every((s) => s.closed), 600_000);
  return { done, got, want, ms: clock.now, tb };
}

describe("tcp pool pressure", () => {
  test("48 echo clients through a 1,024-buffer zone: every byte comes back, nothing stalls", () => {
    const { done, got, want, ms, tb } = run(48, 512 * 1024, 1024);
    const stuck = got.filter((s) => !s.closed).map((s) => `${s.received}/${s.sent}`);
    assertEquals(done, true, `not finished after ${ms.toFixed(0)} ms; received so far: ${stuck.join(",")}`);
    for (const s of got) {
      assertEquals(s.error, undefined);
      assertEquals(s.received, 512 * 1024);
      assertEquals(s.hash.digest("hex"), want);
    }
    assertGreater(tb.counters.poolPressureClamps, 0, "the zone ran low and windows were held");
    console.log(`pool pressure: 48 x 512 KB echoed in ${ms.toFixed(0)} virtual ms, ${tb.counters.poolPressureClamps} windows held`);
  }, { timeoutMs: 300_000 });
});
