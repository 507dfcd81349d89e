/**
 * The loop's idle sleeps (`idleSleepUs`): a stack that has received nothing
 * for that long sleeps between polls instead of polling without a break,
 * answers what comes as before, and a stack without the setting never
 * sleeps. Two stacks on the in-memory link, their loops running; counts
 * (polls, sleeps), not times.
 *
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import { type Connection, createHeapZone, createMemoryLink, createStack, type Stack } from "../src/mod.ts";
import { describe, test } from "./harness.ts";
import { until } from "./helpers.ts";

describe("loop idle sleeps", () => {
  test("an idle loop sleeps between polls, still answers each request, and one without idleSleepUs never sleeps", async () => {
    const [la, lb] = createMemoryLink({
      zone: createHeapZone({ name: "a", count: 1024 }),
      zoneB: createHeapZone({ name: "b", count: 1024 }),
    });
    const server: Stack = await createStack({ device: la, address: "198.18.0.1/24", idleSleepUs: 50 });
    const client: Stack = await createStack({ device: lb, address: "198.18.0.2/24" });
    void server.run();
    void client.run();
    try {
      server.listen(7, () => ({
        onData(c: Connection) {
          for (let n = c.pieceLength; n > 0; n = c.pieceLength) {
            c.write(c.zoneBytes, c.pieceOffset, n);
            c.consume(n);
          }
        },
      }));
      let echoed = 0;
      let conn: Connection | undefined;
      client.connect("198.18.0.1", 7, {
        onOpen(c) {
          conn = c;
        },
        onData(c) {
          for (let n = c.pieceLength; n > 0; n = c.pieceLength) {
            echoed += n;
            c.consume(n);
          }
        },
      });
      await until(() => conn !== undefined, "the connection");
      const request = new Uint8Array(64).fill(7);
      // Requests one at a time, each after the server has slept since the last answer.
      for (let i = 1; i <= 20; i++) {
        const sleeps = server.stats().loop.idleSleeps;
        await until(
          () => server.stats().loop.idleSleeps >= sleeps + 3,
          `the server's sleeps before request ${i}`,
        );
        assertEquals(conn!.write(request), 64);
        await until(() => echoed === 64 * i, `the answer to request ${i}`);
      }
      // Idle: a poll or a few per sleep, not thousands. Measured over 100 sleeps without a frame
      // (the client's delayed ACK may still come, and after a frame the loop polls 50 µs first).
      let quiet: { polls: number; sleeps: number } | undefined;
      for (let attempt = 0; attempt < 20 && quiet === undefined; attempt++) {
        const s0 = server.stats().loop;
        await until(() => server.stats().loop.idleSleeps >= s0.idleSleeps + 100, "100 sleeps");
        const s1 = server.stats().loop;
        if (s1.framesIn !== s0.framesIn) continue;
        quiet = { polls: s1.iterations - s0.iterations, sleeps: s1.idleSleeps - s0.idleSleeps };
      }
      assert(quiet !== undefined, "no stretch of 100 sleeps without a frame");
      assert(quiet.polls <= 2 * quiet.sleeps, `${quiet.polls} polls over ${quiet.sleeps} sleeps`);
      assertEquals(client.stats().loop.idleSleeps, 0);
    } finally {
      await client.close(200);
      await server.close(200);
    }
  });
});
