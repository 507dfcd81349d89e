// Connections as streams: a luna-ts Connection read with `for await` and written
// through its Web `writable` (as Deno.Conn), the backpressure of both directions,
// luna-ts/net sockets as Web streams, and node:http over luna-ts/net keeping
// connections alive on both runtimes through listenNode. Two stacks on the
// in-memory link, loops running.
import { assert, assertEquals } from "@std/assert";
import { createHash } from "node:crypto";
import { Agent, createServer as createHttpServer, request } from "node:http";
import { connect, createServer, listenNode } from "../src/api/net.ts";
import {
  connectStream,
  createHeapZone,
  createMemoryLink,
  createStack,
  listenStreams,
  type Stack,
} from "../src/mod.ts";
import { describe, test } from "./harness.ts";
import { until } from "./helpers.ts";

async function pair(): Promise<[Stack, Stack]> {
  const za = createHeapZone({ name: "a", count: 4096 });
  const zb = createHeapZone({ name: "b", count: 4096 });
  const [la, lb] = createMemoryLink({ zone: za, zoneB: zb });
  const a = await createStack({ device: la, address: "198.18.0.1/24" });
  const b = await createStack({ device: lb, address: "198.18.0.2/24" });
  void a.run();
  void b.run();
  return [a, b];
}

async function withPair(body: (a: Stack, b: Stack) => Promise<void>): Promise<void> {
  const [a, b] = await pair();
  try {
    await body(a, b);
  } finally {
    await a.close(200);
    await b.close(200);
  }
}

const data = new Uint8Array(2_000_000).map((_, i) => (i * 7 + (i >> 11)) & 0xff);
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("connections as streams", () => {
  test("an echo over listenStreams (readable.pipeTo(writable)); the client writes through `writable` and reads with for await", async () => {
    await withPair(async (a, b) => {
      const accepted = listenStreams(b, 7);
      void (async () => {
        for await (const conn of accepted) void conn.readable.pipeTo(conn.writable);
      })();
      const conn = await connectStream(a, { hostname: "198.18.0.2", port: 7 });
      assertEquals(conn.remoteAddr, { transport: "tcp", hostname: "198.18.0.2", port: 7 });
      const writer = conn.writable.getWriter();
      void (async () => {
        for (let off = 0; off < data.length; off += 100_000) {
          await writer.write(data.subarray(off, off + 100_000));
        }
        await writer.close(); // our FIN; the echo's pipeTo closes its side after the last byte
      })();
      const got = createHash("sha256");
      let n = 0;
      for await (const piece of conn.connection) {
        got.update(piece);
        n += piece.length;
      }
      assertEquals(n, data.length);
      assertEquals(got.digest("hex"), sha(data));
      await accepted.return!();
      await until(
        () => b.connections().length === 0 || b.connections().every((c) => c.state === "TIME-WAIT"),
        "closed",
      );
    });
  });

  test("backpressure both ways: an unread connection closes its window and holds the writer; reading lets it through", async () => {
    await withPair(async (a, b) => {
      let server: import("../src/mod.ts").ConnStream | undefined;
      const accepted = listenStreams(b, 9);
      void accepted.next().then((r) => (server = r.value));
      const conn = await connectStream(a, { hostname: "198.18.0.2", port: 9 });
      const writer = conn.writable.getWriter();
      let written = 0;
      const big = new Uint8Array(8_000_000);
      const done = (async () => {
        for (let off = 0; off < big.length; off += 65536) {
          await writer.write(big.subarray(off, off + 65536));
          written = off + 65536;
        }
        await writer.close();
      })();
      await until(() => server !== undefined && written > 0, "the first writes");
      let last = -1;
      await until(() => {
        const still = written === last;
        last = written;
        return still;
      }, "the writer to stop");
      await new Promise((r) => setTimeout(r, 100));
      assert(written < big.length / 2, `the writer got ${written} bytes out to a reader that reads none`);
      assert(server!.connection.readable > 0, "bytes wait in the server's window, not in a stream");
      let n = 0;
      for await (const piece of server!) n += piece.length;
      await done;
      assertEquals(n, big.length);
      await accepted.return!();
    });
  });

  test("a luna-ts/net socket as Web streams (toWeb) and with for await", async () => {
    await withPair(async (a, b) => {
      // allowHalfOpen: the echo's writable closes itself after the client's FIN, as pipeTo asks.
      createServer(b, { allowHalfOpen: true }, (s) => {
        const { readable, writable } = s.toWeb();
        void readable.pipeTo(writable);
      }).listen(7);
      const sock = connect(a, { host: "198.18.0.2", port: 7 });
      sock.end(data.subarray(0, 300_000));
      const got = createHash("sha256");
      let n = 0;
      for await (const piece of sock) {
        got.update(piece as Uint8Array);
        n += (piece as Uint8Array).length;
      }
      assertEquals(n, 300_000);
      assertEquals(got.digest("hex"), sha(data.subarray(0, 300_000)));
    });
  });

  test("node:http served with listenNode keeps connections alive: 5 requests of a keep-alive client on one connection", async () => {
    await withPair(async (a, b) => {
      const http = createHttpServer((req, res) => res.end(`hello ${req.url}`));
      let connections = 0;
      const luna = listenNode(http, b, 80);
      luna.on("connection", () => connections++);
      await until(() => http.listening, "listening");
      assertEquals((http.address() as { port: number }).port, 80);
      // node's keep-alive Agent, its sockets made on the client stack.
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      let opened = 0;
      (agent as unknown as { createConnection: () => unknown }).createConnection = () => {
        opened++;
        return connect(a, { host: "198.18.0.2", port: 80 });
      };
      const bodies: string[] = [];
      for (let i = 0; i < 5; i++) {
        bodies.push(
          await new Promise<string>((resolve, reject) => {
            const req = request({ agent, host: "198.18.0.2", path: `/r${i}` }, (res) => {
              let t = "";
              res.setEncoding("latin1");
              res.on("data", (d: string) => (t += d));
              res.on("end", () => resolve(t));
            });
            req.on("error", reject);
            req.end();
          }),
        );
      }
      assertEquals(bodies, [0, 1, 2, 3, 4].map((i) => `hello /r${i}`));
      assertEquals([opened, connections], [1, 1], "one connection for the 5 requests");
      agent.destroy();
      let closed = false;
      http.close(() => (closed = true));
      await until(() => closed && !http.listening, "the server closed");
    });
  });
});
