import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { createHash } from "node:crypto";
import { createServer as createHttpServer } from "node:http";
import { connect, createServer, type LunaSocket } from "../src/api/net.ts";
import { createHeapZone, createMemoryLink, createStack, type Stack } from "../src/mod.ts";
import { describe, runtime, test } from "./harness.ts";

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

async function shut(a: Stack, b: Stack): Promise<void> {
  await a.close(200);
  await b.close(200);
}

function until(cond: () => boolean, ms = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const end = Date.now() + ms;
    const tick = () => {
      if (cond()) resolve();
      else if (Date.now() > end) reject(new Error("timed out"));
      else setTimeout(tick, 2);
    };
    tick();
  });
}

describe("node:net on luna-ts", () => {
  test("a net.Server echo with socket.pipe(socket), and a net.Socket client, every byte back", async () => {
    const [a, b] = await pair();
    try {
      const server = createServer(b, (s) => s.pipe(s));
      let listening = false;
      server.listen(7, () => (listening = true));
      await until(() => listening);
      const data = new Uint8Array(3_000_000).map((_, i) => (i * 13) & 0xff);
      const want = createHash("sha256").update(data).digest("hex");
      const got = createHash("sha256");
      let n = 0;
      const events: string[] = [];
      const sock = connect(a, { host: "198.18.0.2", port: 7 }, () => events.push("connect"));
      sock.on("data", (d: Uint8Array) => {
        got.update(d);
        n += d.length;
      });
      sock.on("end", () => events.push("end"));
      sock.on("close", () => events.push("close"));
      sock.end(data);
      await until(() => events.includes("close"), 20_000);
      assertEquals(n, data.length);
      assertEquals(got.digest("hex"), want);
      assertEquals(events, ["connect", "end", "close"]);
      assertEquals(sock.bytesWritten, data.length);
      assertEquals(sock.bytesRead, data.length);
      assertEquals(sock.remoteAddress, "198.18.0.2");
      assertEquals(sock.remotePort, 7);
    } finally {
      await shut(a, b);
    }
  });

  // Deno's node:http (a port of node's lib/_http_server.js) destroys a socket once a response is
  // done when its http.Server is not `listening`, and a server only handed sockets with
  // emit("connection") never listens: on Deno such a server answers one request per connection
  // and then closes it (a FIN). Bun's, like node's, keeps the connection. A server whose
  // `listening` reads true keeps it on both. tests/node_compat_lab_test.ts shows the same with curl.
  for (const listening of [false, true]) {
    const keepAlive = listening || runtime !== "deno";
    test(
      `node:http's createServer runs unchanged on luna-ts sockets${
        listening ? " (listening reads true)" : ""
      }: ` +
        (keepAlive ? "5 requests on one connection" : `${runtime} closes the connection after each response`),
      async () => {
        const [a, b] = await pair();
        try {
          const http = createHttpServer((req, res) => {
            const body = `hello ${req.url}`;
            res.writeHead(200, { "content-type": "text/plain", "content-length": String(body.length) });
            res.end(body);
          });
          if (listening) Object.defineProperty(http, "listening", { get: () => true });
          createServer(b, (s) => http.emit("connection", s)).listen(80);
          const sock: LunaSocket = connect(a, { host: "198.18.0.2", port: 80 });
          let text = "";
          const events: string[] = [];
          sock.setEncoding("latin1");
          sock.on("data", (d: string) => (text += d));
          sock.on("end", () => events.push("end"));
          sock.on("close", () => events.push("close"));
          // One request after another on the connection, as a keep-alive client sends them.
          for (let i = 0; i < (keepAlive ? 5 : 1); i++) {
            sock.write(`GET /r${i} HTTP/1.1\r\nHost: x\r\n\r\n`);
            await until(() => text.includes(`hello /r${i}`), 10_000);
          }
          if (keepAlive) {
            assertEquals((text.match(/HTTP\/1.1 200 OK/g) ?? []).length, 5);
            assertStringIncludes(text, "Connection: keep-alive");
            await new Promise((r) => setTimeout(r, 50));
            assertEquals(events, [], "the connection stays open");
            sock.end();
          }
          await until(() => events.includes("close"), 10_000);
          assertEquals(events, ["end", "close"]);
          http.close();
        } finally {
          await shut(a, b);
        }
      },
    );
  }

  test("small writes of one tick leave in one segment: a response's head does not wait on Nagle for its body", async () => {
    const [a, b] = await pair();
    try {
      let server: LunaSocket | undefined;
      createServer(b, (s) => {
        server = s;
        s.resume(); // reads the client's FIN, so that the server's side ends too
      }).listen(80);
      const sock = connect(a, { host: "198.18.0.2", port: 80 });
      let got = "";
      sock.setEncoding("latin1");
      sock.on("data", (d: string) => (got += d));
      await until(() => server !== undefined && !sock.connecting);
      // First transmissions only: on a loaded machine the check below can run after the
      // server's loss probe (52 ms: one segment in flight) resent the answer's tail.
      const segs = () => {
        const st = server!.connection!.stats();
        return st.segsOut - st.retransSegs;
      };
      const before = segs();
      server!.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
      server!.write("hello");
      await until(() => got.endsWith("hello"));
      assertEquals(segs() - before, 1, "one segment carries both writes");
      sock.destroy();
    } finally {
      await shut(a, b);
    }
  });

  test("connecting to a port nobody listens on emits ECONNREFUSED", async () => {
    const [a, b] = await pair();
    try {
      const sock = connect(a, { host: "198.18.0.2", port: 9 });
      let code = "";
      sock.on("error", (e: Error & { code?: string }) => (code = e.code ?? ""));
      await until(() => code !== "", 10_000);
      assertEquals(code, "ECONNREFUSED");
      assert(sock.destroyed);
    } finally {
      await shut(a, b);
    }
  });
});
