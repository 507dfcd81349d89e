/**
 * The loop's stall counts (LoopStalls): a gap between two polls counts when
 * the later poll brought frames, by its length; the loop's own yields are
 * counted apart. Two stacks on the in-memory link, polled at times the test
 * gives, so that every gap is exact.
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { type Connection, createHeapZone, createMemoryLink, createStack, type Stack } from "../src/mod.ts";
import { describe, test } from "./harness.ts";

/** A server and a client with one connection open between them, both polled last at `now` (returned). */
async function pair(
  mode: "batch" | "inline",
): Promise<{ server: Stack; client: Stack; c: Connection; now: number }> {
  const [la, lb] = createMemoryLink({ zone: createHeapZone({ name: "a", count: 1024 }) });
  const server = await createStack({ device: la, address: "198.18.0.1/24", mode });
  const client = await createStack({ device: lb, address: "198.18.0.2/24", mode });
  server.listen(7, () => ({
    onData(c) {
      for (let n = c.pieceLength; n > 0; n = c.pieceLength) c.consume(n);
    },
  }));
  let open = false;
  const c = client.connect("198.18.0.1", 7, { onOpen: () => (open = true) });
  let now = 1000;
  for (let i = 0; i < 100 && !open; i++) {
    now += 0.01;
    server.loop.poll(now);
    client.loop.poll(now);
  }
  assert(open, "the connection opened");
  // What the handshake left (the server's ACK of nothing, a window update) is taken now.
  for (let i = 0; i < 4; i++) {
    now += 0.01;
    server.loop.poll(now);
    client.loop.poll(now);
  }
  return { server, client, c, now };
}

async function closeAll(server: Stack, client: Stack): Promise<void> {
  await client.close(100);
  await server.close(100);
}

describe("loop stalls", () => {
  for (const mode of ["batch", "inline"] as const) {
    test(`${mode}: a 5 ms gap before a poll that brings frames is a stall over 1 ms, not over 10 ms`, async () => {
      const { server, client, c, now } = await pair(mode);
      const s0 = { ...server.loop.stalls };
      assertEquals(c.write(new Uint8Array(64)), 64);
      client.loop.poll(now + 0.01); // the request leaves
      // The request, and whatever else the client had to send then (in a full suite's process,
      // a second frame has come with it once): one poll after the gap, one stall either way.
      const frames = server.loop.poll(now + 5);
      assert(frames >= 1, `the request arrives in the poll after the gap (${frames} frames)`);
      const s = server.loop.stalls;
      assertEquals(s.over100us - s0.over100us, 1);
      assertEquals(s.over1ms - s0.over1ms, 1);
      assertEquals(s.over10ms - s0.over10ms, 0);
      assert(Math.abs(s.ms - s0.ms - 5) < 0.02, `5 ms stalled, counted ${s.ms - s0.ms}`);
      assert(s.msMax >= 4.99, `the longest stall ${s.msMax} ms`);
      await closeAll(server, client);
    });

    test(`${mode}: a gap before a poll that brings nothing is no stall`, async () => {
      const { server, client, now } = await pair(mode);
      const s0 = { ...server.loop.stalls };
      assertEquals(server.loop.poll(now + 50), 0);
      assertEquals(server.loop.stalls.over100us, s0.over100us);
      assertEquals(server.loop.stalls.ms, s0.ms);
      await closeAll(server, client);
    });
  }

  test("after a stall past the probe timeout, ACKs beyond a full burst are read before the timers run: no probe", async () => {
    // The stack under test sends (bursts of 4 frames); the peer echoes, its answers carrying the
    // ACKs. Time is the clock's (writes outside a poll read it), but for the stall.
    const [la, lb] = createMemoryLink({ zone: createHeapZone({ name: "a", count: 1024 }) });
    const a = await createStack({ device: la, address: "198.18.0.1/24", burst: 4 });
    const b = await createStack({ device: lb, address: "198.18.0.2/24" });
    b.listen(7, () => ({
      onData(c) {
        for (let n = c.pieceLength; n > 0; n = c.pieceLength) {
          c.write(c.zoneBytes, c.pieceOffset, n);
          c.consume(n);
        }
      },
    }));
    const conns = 12; // three bursts of 4
    let opened = 0;
    let echoed = 0;
    const cs: Connection[] = [];
    for (let i = 0; i < conns; i++) {
      cs.push(a.connect("198.18.0.2", 7, {
        onOpen: () => opened++,
        onData(c) {
          for (let n = c.pieceLength; n > 0; n = c.pieceLength) {
            echoed += n;
            c.consume(n);
          }
        },
      }));
    }
    const both = (until: () => boolean) => {
      for (let i = 0; i < 200 && !until(); i++) {
        a.loop.poll(performance.now());
        b.loop.poll(performance.now());
      }
      assert(until(), `the exchange finished in 200 rounds (opened ${opened}, echoed ${echoed})`);
    };
    both(() => opened === conns);
    // A first round trip on every connection gives each an RTT sample, so a probe timeout.
    for (const c of cs) assertEquals(c.write(new Uint8Array(8)), 8);
    both(() => echoed === 8 * conns);
    const probes0 = a.stats().tcp.tlpProbes;
    const retrans0 = a.stats().tcp.retransSegs;
    for (const c of cs) assertEquals(c.write(new Uint8Array(8)), 8);
    a.loop.poll(performance.now()); // the requests leave
    b.loop.poll(performance.now()); // the echoes, with the ACKs, wait in a's receive queue
    // a is away 150 ms: past every connection's probe timeout (2 SRTT + 52 ms), short of its RTO.
    const after = performance.now() + 150;
    let frames = 0;
    for (let i = 0; i < 10 && echoed < 16 * conns; i++) frames += a.loop.poll(after);
    assertEquals(echoed, 16 * conns, "every echo read in the polls after the stall");
    assertEquals(frames, conns, "one frame a connection");
    assertEquals(a.stats().tcp.tlpProbes - probes0, 0, "no probe sent");
    assertEquals(a.stats().tcp.retransSegs - retrans0, 0, "nothing sent again");
    await a.close(100);
    await b.close(100);
  });

  test("run() counts the rounds that yield to the runtime, and the time away", async () => {
    const { server, client } = await pair("inline");
    const run = server.run();
    const end = performance.now() + 10_000;
    while (server.loop.stalls.yields + server.loop.stalls.naps < 3 && performance.now() < end) {
      await new Promise((r) => setTimeout(r, 5));
    }
    await server.stop();
    await run;
    const s = server.loop.stalls;
    assert(s.yields + s.naps >= 3, `rounds that gave way: ${s.yields} yields, ${s.naps} naps`);
    assert(s.yieldMs >= 0 && s.napMs >= 0);
    await closeAll(server, client);
  });
});
