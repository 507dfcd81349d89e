// `luna serve http` with `Connection: close`, counted in segments: the server
// sends three per connection (SYN|ACK, the answer with the FIN on it, the ACK
// of the client's FIN), as the kernel's TCP does with TCP_CORK, where it sent
// five (a window update before the answer and the FIN on its own); likewise
// serve()'s fetch handler. Two stacks on the in-memory link, the server on one,
// polled with the real clock. With keep-alive, each small answer is one
// segment, its head and body together.
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { appLimitDefaults, createApp } from "../src/apps/mod.ts";
import { type Connection, createHeapZone, createMemoryLink, createStack, type Stack } from "../src/mod.ts";
import { serve } from "../src/web/serve.ts";
import { describe, test } from "./harness.ts";

async function pair(): Promise<[Stack, Stack]> {
  const za = createHeapZone({ name: "a", count: 1024 });
  const zb = createHeapZone({ name: "b", count: 1024 });
  const [la, lb] = createMemoryLink({ zone: za, zoneB: zb });
  const a = await createStack({ device: la, address: "198.18.0.1/24" });
  const b = await createStack({ device: lb, address: "198.18.0.2/24" });
  return [a, b];
}

/** `rounds` requests with `Connection: close`, each on a connection of its own; resolves when all closed. */
async function closeRounds(
  a: Stack,
  served: () => boolean,
  b: Stack,
  rounds: number,
  path: string,
): Promise<void> {
  const request = new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`);
  const dec = new TextDecoder();
  for (let i = 0; i < rounds; i++) {
    let text = "";
    let closed = false;
    a.connect("198.18.0.2", 80, {
      onOpen: (c) => void c.write(request),
      onData(c) {
        for (let v = c.peek(); v.length > 0; v = c.peek()) {
          text += dec.decode(v);
          c.consume(v.length);
        }
      },
      onEnd: (c) => c.close(),
      onClose: () => void (closed = true),
    });
    const end = performance.now() + 10_000;
    for (let n = 0; !(closed && served()) && performance.now() < end; n++) {
      a.poll();
      b.poll();
      // A turn of the event loop, as Stack.run yields: the handler's continuations run to their end.
      if ((n & 3) === 3) await new Promise((r) => setImmediate(r));
    }
    assert(closed && served(), `connection ${i} closed on both sides`);
    assertStringIncludes(text, "HTTP/1.1 200 OK\r\n");
    assertStringIncludes(text, "onnection: close\r\n");
  }
}

describe("http: Connection: close", () => {
  test("serve(): three segments from the server a connection, the answer and the FIN in one", async () => {
    const [a, b] = await pair();
    const server = serve(b, { port: 80, fetch: () => new Response("hello, world\n") });
    const rounds = 3;
    await closeRounds(a, () => server.stats().open === 0, b, rounds, "/");
    const s = b.stats().tcp;
    assertEquals(s.passiveOpens, rounds);
    assertEquals(s.outSegs, 3 * rounds, "SYN|ACK, answer|FIN, ACK");
    assertEquals(s.retransSegs, 0);
    assertEquals(server.stats().requests, rounds);
    await a.close(100);
    await b.close(100);
    assertEquals(b.device.zone.accounting().inUse, 0, "every buffer back (server)");
  });

  test("three segments from the server a connection: SYN|ACK, answer|FIN, the ACK of the client's FIN", async () => {
    const [a, b] = await pair();
    const app = createApp("http", b.device.zone, appLimitDefaults);
    b.listen(80, (c) => app.accept(c));
    const rounds = 3;
    await closeRounds(a, () => app.stats().open === 0, b, rounds, "/bytes/13");
    const s = b.stats().tcp;
    assertEquals(s.passiveOpens, rounds);
    assertEquals(s.outSegs, 3 * rounds, "SYN|ACK, answer|FIN, ACK");
    assertEquals(s.retransSegs, 0);
    assertEquals(app.stats().requests, rounds);
    await a.close(100);
    await b.close(100);
    assertEquals(b.device.zone.accounting().inUse, 0, "every buffer back (server)");
  });

  test("keep-alive: each /bytes/13 answer leaves as one segment, its head and body together", async () => {
    const [a, b] = await pair();
    const app = createApp("http", b.device.zone, appLimitDefaults);
    b.listen(80, (c) => app.accept(c));
    const request = new TextEncoder().encode("GET /bytes/13 HTTP/1.1\r\nHost: t\r\n\r\n");
    const answer = "HTTP/1.1 200 OK\r\n";
    let conn: Connection | undefined;
    let text = "";
    a.connect("198.18.0.2", 80, {
      onOpen: (c) => void (conn = c),
      onData(c) {
        for (let v = c.peek(); v.length > 0; v = c.peek()) {
          text += new TextDecoder().decode(v);
          c.consume(v.length);
        }
      },
    });
    const settle = async (done: () => boolean, what: string) => {
      const end = performance.now() + 10_000;
      for (let n = 0; !done() && performance.now() < end; n++) {
        a.poll();
        b.poll();
        if ((n & 3) === 3) await new Promise((r) => setImmediate(r));
      }
      assert(done(), what);
    };
    await settle(() => conn !== undefined, "connected");
    const rounds = 5;
    const before = b.stats().tcp.outSegs;
    for (let i = 1; i <= rounds; i++) {
      conn!.write(request);
      await settle(() => text.split(answer).length - 1 === i && text.endsWith("\x0c"), `answer ${i} whole`);
    }
    assertEquals(b.stats().tcp.outSegs - before, rounds, "one segment an answer");
    assertEquals(b.stats().tcp.retransSegs, 0);
    await a.close(100);
    await b.close(100);
    assertEquals(b.device.zone.accounting().inUse, 0, "every buffer back (server)");
  });
});
