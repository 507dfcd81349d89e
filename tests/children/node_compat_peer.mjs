// node's side of the node:net compatibility tests and of bench/node_http.ts,
// on the kernel's TCP (run by /usr/bin/node, plain JavaScript):
//
//   node node_compat_peer.mjs http-server HOST PORT
//       node:http: GET /bytes/N answers N bytes of the pattern (byte i is i % 256),
//       POST /sha256 the hex SHA-256 of the body and a newline, anything else "ok URL";
//       prints LISTENING
//   node node_compat_peer.mjs bench-client HOST PORT CONNS SECONDS WARMUP
//       closed loop: CONNS node:net connections, each sending `GET /r HTTP/1.1` and
//       waiting for the whole response before the next (keep-alive; a connection the
//       server closes is opened again); prints RESULT {requests, seconds, rps, reconnects, errors}
import { createHash } from "node:crypto";
import http from "node:http";
import net from "node:net";

const [mode, ...args] = process.argv.slice(2);

/** 256 + 64 KiB of the pattern: any 64 KiB stretch of it starts at `pos & 255`. */
const table = Buffer.alloc(256 + 65536);
for (let i = 0; i < table.length; i++) table[i] = i & 255;

if (mode === "http-server") {
  const [host, port] = args;
  const server = http.createServer((req, res) => {
    const m = /^\/bytes\/(\d+)$/.exec(req.url ?? "");
    if (req.method === "GET" && m !== null) {
      const n = Number(m[1]);
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(n) });
      let pos = 0;
      const more = () => {
        while (pos < n) {
          const k = Math.min(65536, n - pos);
          const at = pos & 255;
          pos += k;
          if (!res.write(table.subarray(at, at + k))) return void res.once("drain", more);
        }
        res.end();
      };
      more();
    } else if (req.method === "POST" && req.url === "/sha256") {
      const h = createHash("sha256");
      req.on("data", (d) => h.update(d));
      req.on("end", () => res.end(h.digest("hex") + "\n"));
    } else {
      const body = `ok ${req.url}`;
      res.writeHead(200, { "content-type": "text/plain", "content-length": String(body.length) });
      res.end(body);
    }
  });
  server.keepAliveTimeout = 60_000;
  server.listen(Number(port), host, () => console.log("LISTENING"));
} else if (mode === "bench-client") {
  const [host, port, conns, seconds, warmup] = [
    args[0],
    Number(args[1]),
    Number(args[2]),
    Number(args[3]),
    Number(args[4] ?? 0.5),
  ];
  const request = Buffer.from(`GET /r HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  let counting = false;
  let stopped = false;
  let requests = 0;
  let reconnects = 0;
  let errors = 0;
  /** One closed-loop connection: a request, the whole response, the next request. */
  const run = () => {
    let buf = "";
    const s = net.connect({ host, port, noDelay: true }, () => s.write(request));
    s.setEncoding("latin1");
    s.on("data", (d) => {
      buf += d;
      for (;;) {
        const head = buf.indexOf("\r\n\r\n");
        if (head < 0) return;
        const m = /content-length: *(\d+)/i.exec(buf.slice(0, head));
        const end = head + 4 + (m ? Number(m[1]) : 0);
        if (buf.length < end) return;
        buf = buf.slice(end);
        if (counting) requests++;
        if (stopped) return void s.destroy();
        s.write(request);
      }
    });
    s.on("error", () => errors++);
    s.on("close", () => {
      if (stopped) return;
      reconnects++;
      run();
    });
  };
  for (let i = 0; i < conns; i++) run();
  setTimeout(() => {
    counting = true;
    const t0 = performance.now();
    setTimeout(() => {
      counting = false;
      stopped = true;
      const s = (performance.now() - t0) / 1000;
      console.log(
        "RESULT " + JSON.stringify({ requests, seconds: s, rps: requests / s, reconnects, errors }),
      );
      process.exit(0);
    }, seconds * 1000);
  }, warmup * 1000);
} else {
  console.error(
    "usage: node_compat_peer.mjs http-server HOST PORT | bench-client HOST PORT CONNS SECONDS [WARMUP]",
  );
  process.exit(2);
}
