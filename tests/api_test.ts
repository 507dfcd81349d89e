import { assert, assertEquals, assertInstanceOf, assertRejects, assertStringIncludes, assertThrows } from "@std/assert";
import {
  ConfigError,
  type Connection,
  createHeapZone,
  createMemoryLink,
  createStack,
  type FaultInjector,
  parseStackConfig,
  type Stack,
} from "../src/mod.ts";
import { describe, test } from "./harness.ts";

function fieldOf(input: unknown): string {
  try {
    parseStackConfig(input);
  } catch (e) {
    assertInstanceOf(e, ConfigError);
    return e.field;
  }
  throw new Error("the config was accepted");
}

async function pair(mode: "batch" | "inline"): Promise<[Stack, Stack]> {
  const za = createHeapZone({ name: "a", count: 2048 });
  const zb = createHeapZone({ name: "b", count: 2048 });
  const [la, lb] = createMemoryLink({ zone: za, zoneB: zb });
  const a = await createStack({ device: la, address: "198.18.0.1/24", mode });
  const b = await createStack({ device: lb, address: "198.18.0.2/24", mode });
  return [a, b];
}

async function both(a: Stack, b: Stack, done: () => boolean, ms = 5000): Promise<boolean> {
  const end = performance.now() + ms;
  for (let i = 0; !done() && performance.now() < end; i++) {
    a.poll();
    b.poll();
    if ((i & 1023) === 1023) await new Promise((r) => setImmediate(r));
  }
  return done();
}

describe("createStack", () => {
  test("a bad config gets one error naming the field", () => {
    assertEquals(fieldOf({ address: "198.18.0.1/24" }), "device");
    assertEquals(fieldOf({ device: "af_packet:", address: "198.18.0.1/24" }), "device");
    assertEquals(fieldOf({ device: "bogus0", address: "198.18.0.1/24" }), "device");
    assertEquals(fieldOf({ device: "af_packet:veth0", address: "198.18.0.1" }), "address");
    assertEquals(fieldOf({ device: "af_packet:veth0", address: "300.18.0.1/24" }), "address");
    assertEquals(fieldOf({ device: "af_packet:veth0", address: "198.18.0.1/24", gateway: "10.0.0.1" }), "gateway");
    assertEquals(fieldOf({ device: "af_packet:veth0", address: "198.18.0.1/24", mode: "fast" }), "mode");
    assertEquals(fieldOf({ device: "af_packet:veth0", address: "198.18.0.1/24", tcp: { mss: 10 } }), "tcp.mss");
    assertEquals(fieldOf({ device: "af_packet:veth0", address: "198.18.0.1/24", tcp: { nagle: true } }), "tcp.nagle");
    assertEquals(fieldOf({ device: "af_packet:veth0", address: "198.18.0.1/24", faults: { loss: 2, seed: 1 } }), "faults.loss");
    assertEquals(fieldOf({ device: "af_packet:veth0", address: "198.18.0.1/24", colour: "red" }), "colour");
    assertEquals(fieldOf({ device: "memif:relative.sock", address: "198.18.0.1/24" }), "device");
  });

  test("the error message says what is wrong", async () => {
    const e = await assertRejects(() => createStack({ device: "af_packet:veth0", address: "nope" }), ConfigError);
    assertStringIncludes(e.message, "address");
    assertStringIncludes(e.message, "ADDRESS/PREFIX");
  });

  for (const mode of ["batch", "inline"] as const) {
    test(`${mode}: an echo server and a client over the in-memory link`, async () => {
      const [a, b] = await pair(mode);
      const events: string[] = [];
      b.listen(7, (c) => {
        events.push(`accept ${c.remoteAddress}`);
        return {
          onData(c) {
            const buf = new Uint8Array(65536);
            if (mode === "batch") {
              // write(buf, 0, n): the first n bytes of a reused buffer, no view made.
              for (let n = c.read(buf); n > 0; n = c.read(buf)) assertEquals(c.write(buf, 0, n), n);
            } else {
              // Zero-copy and view-less: the piece in the zone, written straight from there.
              for (let n = c.pieceLength; n > 0; n = c.pieceLength) {
                assertEquals(c.write(c.zoneBytes, c.pieceOffset, n), n);
                c.consume(n);
              }
            }
            assertThrows(() => c.write(buf, 0, buf.length + 1), RangeError);
            assertThrows(() => c.write(buf, 1.5), RangeError);
            assertThrows(() => c.write(buf, buf.length, 1), RangeError);
          },
          onEnd(c) {
            c.close();
          },
        };
      });
      const sent = new Uint8Array(100_000).map((_, i) => (i * 7) & 0xff);
      const got: number[] = [];
      let closed = false;
      const conn = a.connect("198.18.0.2", 7, {
        onOpen(c) {
          events.push("open");
          c.write(sent);
          c.close();
        },
        onData(c) {
          // Zero-copy reads: views of the packet buffers, consumed as read.
          for (let v = c.peek(); v.length > 0; v = c.peek()) {
            for (const x of v) got.push(x);
            c.consume(v.length);
          }
        },
        onClose(_c, error) {
          closed = error === undefined;
        },
      });
      assert(await both(a, b, () => closed), `closed (${conn.state}, ${got.length} bytes back)`);
      assertEquals(got.length, sent.length);
      assertEquals(new Uint8Array(got), sent);
      assertEquals(events.sort(), ["accept 198.18.0.1", "open"]); // the client opens before the server accepts
      assertEquals(a.stats().tcp.activeOpens, 1);
      assertEquals(b.stats().tcp.passiveOpens, 1);
      await a.close(100);
      await b.close(100);
      assertEquals(a.device.zone.accounting().inUse, 0);
      assertEquals(b.device.zone.accounting().inUse, 0);
    });
  }

  test("more data than the zone holds, over many connections at once, all arrives", async () => {
    const za = createHeapZone({ name: "a", count: 512 });
    const zb = createHeapZone({ name: "b", count: 512 });
    const [la, lb] = createMemoryLink({ zone: za, zoneB: zb, bandwidthBps: 100e6 });
    const a = await createStack({ device: la, address: "198.18.0.1/24", buffers: 512 });
    const b = await createStack({ device: lb, address: "198.18.0.2/24", buffers: 512 });
    let received = 0;
    b.listen(9, () => ({
      onData(c) {
        const buf = new Uint8Array(65536);
        for (let n = c.read(buf); n > 0; n = c.read(buf)) received += n;
      },
    }));
    const per = 1_000_000;
    const conns = 8;
    const data = new Uint8Array(per);
    for (let i = 0; i < conns; i++) {
      let sent = 0;
      const pump = (c: Connection) => {
        while (sent < per) {
          const n = c.write(data.subarray(sent));
          if (n === 0) return; // wait for onWritable: the send buffer or the zone is full
          sent += n;
        }
        c.close();
      };
      a.connect("198.18.0.2", 9, { onOpen: pump, onWritable: pump });
    }
    assert(await both(a, b, () => received === per * conns, 30_000), `received ${received} of ${per * conns}`);
    await a.close(100);
    await b.close(100);
    assertEquals(za.accounting().inUse, 0);
  }, { timeoutMs: 60_000 });

  test("faults take one direction when asked: tx marks what the stack sends, rx what it receives", async () => {
    assertEquals(
      fieldOf({ device: "af_packet:veth0", address: "198.18.0.1/24", faults: { seed: 1, direction: "up" } }),
      "faults.direction",
    );
    for (const direction of ["tx", "rx", "both"] as const) {
      const za = createHeapZone({ name: "a", count: 2048 });
      const zb = createHeapZone({ name: "b", count: 2048 });
      const [la, lb] = createMemoryLink({ zone: za, zoneB: zb });
      // CE on every ECN-capable frame: data both ways is ECT(0) once the handshake agreed on ECN.
      const a = await createStack({
        device: la,
        address: "198.18.0.1/24",
        tcp: { ecn: "on" },
        faults: { seed: 3, direction, ceMark: 1 },
      });
      const b = await createStack({ device: lb, address: "198.18.0.2/24", tcp: { ecn: "on" } });
      b.listen(7, () => ({
        onData(c) {
          for (let v = c.peek(); v.length > 0; v = c.peek()) {
            const n = c.write(v);
            c.consume(n);
            if (n < v.length) return;
          }
        },
      }));
      let got = 0;
      a.connect("198.18.0.2", 7, {
        onOpen: (c) => c.write(new Uint8Array(1000)),
        onData(c) {
          got += c.readable;
          c.consume(c.readable);
        },
      });
      assert(await both(a, b, () => got === 1000), `${direction}: echoed ${got} of 1000`);
      const fi = a.device as FaultInjector;
      const marked = { tx: fi.txCounters.ceMarked > 0, rx: fi.rxCounters.ceMarked > 0 };
      assertEquals(marked, { tx: direction !== "rx", rx: direction !== "tx" }, direction);
      assertEquals([b.stats().tcp.ceMarksIn > 0, a.stats().tcp.ceMarksIn > 0], [marked.tx, marked.rx]);
      await a.close(100);
      await b.close(100);
    }
  });

  test("close() does not wait its grace for a handshake that never completes", async () => {
    const [a, b] = await pair("batch");
    b.listen(7, () => ({}));
    a.connect("198.18.0.2", 7, {});
    // Until b holds the SYN (ARP first, then a's SYN); a polls no more after that, so b's SYN-ACK
    // is never answered.
    assert(await both(a, b, () => [...b.tcp.each()].some((t) => t.state === 3 /* SYN-RECEIVED */)));
    // 60 s of grace: a close that waited for the half-open connection would outlast the bound.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise<string>((r) => (timer = setTimeout(() => r("still closing after 30 s"), 30_000)));
    assertEquals(await Promise.race([b.close(60_000).then(() => "closed"), bound]), "closed");
    clearTimeout(timer);
    assertEquals([...b.tcp.each()].length, 0, "the half-open connection is gone");
    await a.close(100); // takes what b sent last (its SYN-ACK, a buffer of b's zone) off the link
    assertEquals(b.stats().zone.inUse, 0, "every buffer is back");
  });

  test("data received before a clean close can still be read after it, then its buffers go back", async () => {
    const [a, b] = await pair("batch");
    let server: Connection | undefined;
    let closed = false;
    b.listen(9, (c) => {
      server = c;
      return { onEnd: (c) => c.close(), onClose: () => (closed = true) };
    });
    a.connect("198.18.0.2", 9, {
      onOpen(c) {
        c.write(new Uint8Array(200_000).fill(7));
        c.close();
      },
    });
    assert(await both(a, b, () => closed));
    assertEquals(server!.state, "CLOSED");
    assertEquals(server!.readable, 200_000, "our close was a half-close: the data is still there");
    const buf = new Uint8Array(300_000);
    assertEquals(server!.read(buf), 200_000);
    assertEquals(buf[199_999], 7);
    assertEquals(b.device.zone.accounting().inUse, 0);
    await a.close(100);
    await b.close(100);
    assertEquals(b.stats().zone.inUse, 0, "stats still answer after close");
  });

  test("zero-copy send: a buffer taken from the zone goes out without a copy", async () => {
    const [a, b] = await pair("inline");
    let received = "";
    b.listen(9, () => ({
      onData(c) {
        const buf = new Uint8Array(100);
        received += new TextDecoder().decode(buf.subarray(0, c.read(buf)));
      },
    }));
    a.connect("198.18.0.2", 9, {
      onOpen(c) {
        const tx = c.alloc();
        const n = new TextEncoder().encodeInto("zero copy", tx.bytes).written;
        assert(c.send(tx, n));
      },
    });
    assert(await both(a, b, () => received === "zero copy"));
    const conn = a.connections()[0];
    assertEquals(conn.stats().sendCopies, 0);
    await a.close(100);
    await b.close(100);
  });
});
