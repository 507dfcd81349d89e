// `luna serve http` keeps the exchange (request state, head and body readers) of a
// closed connection for the next one: a connection that ended in the middle of a
// request head, or of a chunked body, leaves nothing that the next connection's
// requests see. Two stacks on the in-memory link, the server on one, polled with
// the real clock.
import { assert, assertEquals } from "@std/assert";
import { createHash } from "node:crypto";
import { appLimitDefaults, createApp } from "../src/apps/mod.ts";
import { createHeapZone, createMemoryLink, createStack, type Stack } from "../src/mod.ts";
import { describe, test } from "./harness.ts";

async function pair(): Promise<[Stack, Stack]> {
  const za = createHeapZone({ name: "a", count: 1024 });
  const zb = createHeapZone({ name: "b", count: 1024 });
  const [la, lb] = createMemoryLink({ zone: za, zoneB: zb });
  const a = await createStack({ device: la, address: "198.18.0.1/24" });
  const b = await createStack({ device: lb, address: "198.18.0.2/24" });
  return [a, b];
}

/**
 * Opens a connection from `a` to port 80, sends `parts` (one write each, a poll
 * round between them), then ends its side (`end`) or aborts it (`abort`); resolves
 * with every byte received, latin1, once the connection closed.
 */
async function exchange(a: Stack, b: Stack, parts: string[], how: "end" | "abort" | "wait"): Promise<string> {
  const enc = new TextEncoder();
  let text = "";
  let closed = false;
  let open = false;
  const conn = a.connect("198.18.0.2", 80, {
    onOpen: () => void (open = true),
    onData(c) {
      for (let v = c.peek(); v.length > 0; v = c.peek()) {
        for (const byte of v) text += String.fromCharCode(byte);
        c.consume(v.length);
      }
    },
    onEnd: (c) => c.close(),
    onClose: () => void (closed = true),
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
  await settle(() => open, "connected");
  for (const p of parts) {
    conn.write(enc.encode(p));
    for (let i = 0; i < 4; i++) {
      a.poll();
      b.poll();
    }
  }
  if (how === "end") conn.close();
  else if (how === "abort") conn.abort();
  await settle(() => closed, "closed");
  return text;
}

describe("http app: exchanges of closed connections serve new ones", () => {
  test("after connections cut inside a head and inside a chunked body, the next ones are answered as on a fresh server", async () => {
    const [a, b] = await pair();
    const app = createApp("http", b.device.zone, appLimitDefaults);
    b.listen(80, (c) => app.accept(c));
    const settleClosed = async () => {
      const end = performance.now() + 10_000;
      while (app.stats().open > 0 && performance.now() < end) {
        a.poll();
        b.poll();
        await new Promise((r) => setImmediate(r));
      }
      assertEquals(app.stats().open, 0, "the server closed its side");
    };
    // A head cut short by the client's FIN: no answer, the server closes.
    assertEquals(await exchange(a, b, ["GET /bytes/5 HTTP/1.1\r\nX-Cut: aaaa"], "end"), "");
    await settleClosed();
    // The next connection's head is read from its own bytes only.
    const three = await exchange(
      a,
      b,
      ["GET /bytes/3 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"],
      "wait",
    );
    assert(three.startsWith("HTTP/1.1 200 OK\r\n"), three);
    assert(three.includes("Content-Length: 3\r\n"), three);
    assert(three.endsWith("\r\n\r\n\x00\x01\x02"), JSON.stringify(three));
    await settleClosed();
    // A chunked body cut inside a trailer line by a reset.
    const cut =
      "POST /sha256 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Trailer: y";
    await exchange(a, b, [cut], "abort");
    await settleClosed();
    // The next chunked body is hashed from its own bytes: nothing of the cut one's state is left.
    const body = "hello, world";
    const post =
      `POST /sha256 HTTP/1.1\r\nHost: t\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n` +
      `5\r\nhello\r\n7\r\n, world\r\n0\r\nX-Trailer: z\r\n\r\n`;
    const hashed = await exchange(a, b, [post.slice(0, 70), post.slice(70)], "wait");
    const hex = createHash("sha256").update(body).digest("hex");
    assert(hashed.startsWith("HTTP/1.1 200 OK\r\n"), hashed);
    assert(hashed.endsWith(`\r\n\r\n${hex}\n`), hashed);
    await settleClosed();
    // Pipelined requests on one connection, then a fresh one: each answered once, in order.
    const two = await exchange(a, b, [
      "GET /bytes/1 HTTP/1.1\r\nHost: t\r\n\r\nGET /bytes/2 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    ], "wait");
    assertEquals(two.split("HTTP/1.1 200 OK").length - 1, 2, two);
    assert(two.endsWith("\r\n\r\n\x00\x01"), JSON.stringify(two));
    await settleClosed();
    const s = app.stats();
    assertEquals(s.accepted, 5);
    assertEquals(s.responses2xx, 4);
    assertEquals(s.responses4xx, 0);
    await a.close(100);
    await b.close(100);
    assertEquals(b.device.zone.accounting().inUse, 0, "every buffer back (server)");
  });
});
