// node:http and node:tls servers, unchanged, on luna-ts sockets (or, for a
// baseline, on the kernel's TCP). The application is ordinary node code:
//   GET /bytes/N     N bytes of the pattern (src/apps/pattern.ts), streamed with backpressure
//   POST /sha256     the hex SHA-256 of the request body, and a newline
//   anything else    200 "ok <url>"
//
//   node_compat_server.ts luna PREFIX IFACE CIDR CERT KEY
//     luna-ts on af_packet:IFACE, and on it:
//       80    node:http, handed each socket with emit("connection")
//       443   node:tls's createServer, handed each socket; its TLS sockets handed to node:http
//       8080  node:http as on 80, but its `listening` reads true (what Deno's node:http needs
//             to keep an injected socket alive between requests; see tests/node_compat_lab_test.ts)
//       8443  new tls.TLSSocket(socket, { isServer: true }), handed to node:http as on 8080
//   node_compat_server.ts kernel HOST PORT
//     node:http listening on the kernel's TCP (the baseline of bench/node_http.ts)
//
// Prints "READY" once serving; on SIGINT or SIGTERM closes and prints
// RESULT {requests, connections, stack} and exits 0.
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { Duplex } from "node:stream";
import * as tls from "node:tls";
import { createServer } from "../../src/api/net.ts";
import { fillPattern } from "../../src/apps/pattern.ts";
import { createStack } from "../../src/mod.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

const requests: Record<string, number> = {};
const connections: Record<string, number> = {};
const count = (m: Record<string, number>, k: string) => (m[k] = (m[k] ?? 0) + 1);

/** The application: plain node:http request handling (`tag` names the server in the counts). */
const app = (tag: string) => (req: IncomingMessage, res: ServerResponse): void => {
  count(requests, tag);
  const url = req.url ?? "/";
  const m = /^\/bytes\/(\d+)$/.exec(url);
  if (req.method === "GET" && m !== null) {
    const n = Number(m[1]);
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(n) });
    let pos = 0;
    const more = () => {
      while (pos < n) {
        const chunk = Buffer.allocUnsafe(Math.min(65536, n - pos));
        fillPattern(chunk, pos);
        pos += chunk.length;
        if (!res.write(chunk)) {
          res.once("drain", more);
          return;
        }
      }
      res.end();
    };
    more();
  } else if (req.method === "POST" && url === "/sha256") {
    const h = createHash("sha256");
    req.on("data", (d: Buffer) => h.update(d));
    req.on("end", () => {
      const body = h.digest("hex") + "\n";
      res.writeHead(200, { "content-type": "text/plain", "content-length": String(body.length) });
      res.end(body);
    });
  } else {
    const body = `ok ${url}`;
    res.writeHead(200, { "content-type": "text/plain", "content-length": String(body.length) });
    res.end(body);
  }
};

function onSignals(fn: () => void): void {
  for (const s of ["SIGINT", "SIGTERM"]) {
    if (typeof g.Deno !== "undefined") g.Deno.addSignalListener(s, fn);
    else process.on(s, fn);
  }
}

const [mode, ...args] = process.argv.slice(2);
if (mode === "kernel") {
  const [host, port] = args;
  const http = createHttpServer(app(port));
  http.keepAliveTimeout = 60_000;
  http.on("connection", () => count(connections, port));
  http.listen(Number(port), host, () => console.log("READY"));
  onSignals(() => {
    console.log("RESULT " + JSON.stringify({ requests, connections }));
    process.exit(0);
  });
} else if (mode === "luna") {
  const [prefix, iface, cidr, certPath, keyPath] = args;
  const cert = readFileSync(certPath);
  const key = readFileSync(keyPath);
  const stack = await createStack({ device: `af_packet:${iface}`, address: cidr, eal: { prefix } });

  // The node:http servers, as any node program makes them; those of 8080 and 8443 say they listen.
  const [h80, h443, h8080, h8443]: Server[] = ["80", "443", "8080", "8443"].map((p) =>
    createHttpServer(app(p))
  );
  for (const h of [h8080, h8443]) Object.defineProperty(h, "listening", { get: () => true });
  for (const h of [h80, h443, h8080, h8443]) h.keepAliveTimeout = 60_000;

  const tlsServer = tls.createServer({ key, cert }, (s) => h443.emit("connection", s));
  tlsServer.on("tlsClientError", (e) => console.error(`tls: ${e.message}`));
  const secureContext = tls.createSecureContext({ key, cert });

  const serve = (port: number, handle: (s: Duplex) => void) =>
    createServer(stack, (s) => {
      count(connections, String(port));
      s.on("error", (e) => console.error(`${port}: ${e.message}`));
      handle(s);
    }).listen(port);
  serve(80, (s) => h80.emit("connection", s));
  serve(443, (s) => tlsServer.emit("connection", s));
  serve(8080, (s) => h8080.emit("connection", s));
  serve(8443, (s) => {
    const t = new tls.TLSSocket(s, { isServer: true, secureContext });
    t.on("error", (e) => console.error(`8443 tls: ${e.message}`));
    h8443.emit("connection", t);
  });

  let stopping = false;
  onSignals(() => {
    if (stopping) return;
    stopping = true;
    void (async () => {
      const tcp = stack.stats().tcp;
      await stack.close(1000);
      console.log("RESULT " + JSON.stringify({ requests, connections, tcp }));
      process.exit(0);
    })();
  });
  console.log("READY");
  await stack.run();
} else {
  console.error("usage: node_compat_server.ts luna PREFIX IFACE CIDR CERT KEY | kernel HOST PORT");
  process.exit(2);
}
