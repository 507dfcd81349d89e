// Slow readers: clients that never read must not starve the others. Each
// connection's send data holds at most its share of the zone (pool_pressure.ts),
// so a server streaming to 16 clients that never read still streams to an
// honest one, on the virtual clock.
import { assert, assertEquals } from "@std/assert";
import { effectiveMss } from "../src/tcp/window.ts";
import { recvHeld, recvShareMin, sendShareMin } from "../src/tcp/pool_pressure.ts";
import type { Tcb } from "../src/tcp/tcb.ts";
import { describe, test } from "./harness.ts";
import { addrB } from "./sim.ts";
import { tcpHosts } from "./tcp_sim.ts";

describe("tcp slow readers", () => {
  test("16 clients that never read hold a share each; an honest client's 2 MB download goes on", () => {
    const { ta, tb, clock } = tcpHosts({ buffers: 32768, buffersB: 2048, seed: 5 });
    // The server streams an endless answer to whoever connects.
    const chunk = new Uint8Array(16384).map((_, i) => i & 0xff);
    const serverConns: Tcb[] = [];
    tb.listen(80, (c) => {
      serverConns.push(c);
      let at = 0; // where in the pattern the stream is
      const pump = (c: Tcb) => {
        for (let n = tb.write(c, chunk, clock.now, at); n > 0; n = tb.write(c, chunk, clock.now, at)) {
          at = (at + n) % chunk.length; // until the send buffer, the zone or the connection's share says no
        }
      };
      return { onOpen: pump, onWritable: pump };
    });
    for (let i = 0; i < 16; i++) ta.connect(addrB, 80, {}, clock.now); // they never read
    clock.run(2000);
    const stalled = [...serverConns];
    assertEquals(stalled.length, 16);
    let received = 0;
    let wrong = 0;
    const buf = new Uint8Array(65536);
    ta.connect(addrB, 80, {
      onData: (c) => {
        for (let n = ta.read(c, buf, clock.now); n > 0; n = ta.read(c, buf, clock.now)) {
          for (let k = 0; k < n; k++) if (buf[k] !== ((received + k) % 16384 & 0xff)) wrong++;
          received += n;
        }
      },
    }, clock.now);
    assert(clock.runUntil(() => received >= 2 << 20, 30_000), `the honest client got ${received} bytes`);
    assertEquals(wrong, 0, "in order, byte for byte");
    // Their share when their windows closed: half the zone split among the 16 of them.
    const share = Math.max(sendShareMin, Math.floor(1024 / 16));
    for (const c of stalled) {
      assert(c.sendq.chunks <= share, `a stalled connection holds ${c.sendq.chunks} > ${share}`);
    }
  });

  test("16 servers' connections never read: each closes its window at its share; an honest 2 MB upload goes on", () => {
    const { ta, tb, clock } = tcpHosts({ buffers: 32768, buffersB: 2048, seed: 6 });
    const chunk = new Uint8Array(16384).map((_, i) => (i * 7) & 0xff);
    // Port 9: a server that never reads what its clients send.
    const stalled: Tcb[] = [];
    tb.listen(9, (c) => {
      stalled.push(c);
      return {};
    });
    // Port 7: one that reads and checks every byte.
    let received = 0;
    let wrong = 0;
    const buf = new Uint8Array(65536);
    tb.listen(7, () => ({
      onData: (c) => {
        for (let n = tb.read(c, buf, clock.now); n > 0; n = tb.read(c, buf, clock.now)) {
          for (let k = 0; k < n; k++) if (buf[k] !== (((received + k) % 16384) * 7 & 0xff)) wrong++;
          received += n;
        }
      },
    }));
    const pump = (at: { v: number }, limit: number) => (c: Tcb) => {
      for (let n = 1; n > 0 && at.v < limit;) {
        n = ta.write(
          c,
          chunk,
          clock.now,
          at.v % chunk.length,
          Math.min(chunk.length - at.v % chunk.length, limit - at.v),
        );
        at.v += n;
      }
    };
    for (let i = 0; i < 16; i++) {
      const p = pump({ v: 0 }, Infinity);
      ta.connect(addrB, 9, { onOpen: p, onWritable: p }, clock.now);
    }
    clock.run(3000);
    assertEquals(stalled.length, 16);
    // Their share: half of the server's zone split among the 16 of them (and the honest one to come).
    const share = Math.max(recvShareMin, Math.floor(1024 / 16));
    for (const c of stalled) {
      // What is left of the advertised window past the share is taken, a segment's buffer at most.
      assert(
        recvHeld(c) <= share + 1,
        `a connection that is never read holds ${recvHeld(c)} > ${share} + 1 buffers`,
      );
      // Closed to less than a segment: the window offers a full segment per buffer left of the
      // share, and the right edge never moves back (RFC 9293 3.8.6.2.2) when shorter ones came.
      const wnd = (c.rcvAdv - c.rcvNxt) >>> 0;
      assert(wnd < effectiveMss(c), `its window is closed: ${wnd} bytes open`);
    }
    const total = 2 << 20;
    const p = pump({ v: 0 }, total);
    ta.connect(addrB, 7, { onOpen: p, onWritable: p }, clock.now);
    assert(
      clock.runUntil(() => received >= total, 30_000),
      `the honest upload: ${received} of ${total} bytes`,
    );
    assertEquals(received, total);
    assertEquals(wrong, 0, "in order, byte for byte");
    for (const c of stalled) assert(recvHeld(c) <= share + 1, `${recvHeld(c)} buffers held`);
  });
});
