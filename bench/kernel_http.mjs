// The kernel-TCP servers of the lossy workload (bench/lossy.ts), written as a
// node user would write them, beside `luna serve http` and `luna serve discard`:
//   port PORT (80): node:http, `GET /bytes/N` answers N bytes of the pattern
//                   of src/apps/pattern.ts (byte i is i % 256), streamed in
//                   64 KiB writes that wait for 'drain'; anything else 404
//   port SINK (9):  node:net discard (RFC 863): what arrives is counted and
//                   dropped; the peer's FIN is answered with ours
// Prints READY once both listen; exits on SIGINT, SIGTERM or the end of stdin.
// Usage: node kernel_http.mjs ADDRESS [PORT] [SINK]
import { createServer as httpServer } from "node:http";
import { createServer as netServer } from "node:net";

const [host, portArg = "80", sinkArg = "9"] = process.argv.slice(2);
const chunk = 1 << 16;
// 256 + 64 KiB of the pattern: any 64 KiB stretch of it starts at `pos & 255`.
const table = Buffer.alloc(256 + chunk);
for (let i = 0; i < table.length; i++) table[i] = i & 255;
const maxBytes = 2 ** 40;

const http = httpServer((req, res) => {
  const m = /^\/bytes\/(\d{1,15})$/.exec(req.url ?? "");
  const n = m ? Number(m[1]) : -1;
  if (req.method !== "GET" || n < 0 || n > maxBytes) {
    res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    return;
  }
  res.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(n) });
  let pos = 0;
  const pump = () => {
    while (pos < n) {
      const len = Math.min(chunk, n - pos);
      const at = pos & 255;
      pos += len;
      if (!res.write(table.subarray(at, at + len))) {
        res.once("drain", pump);
        return;
      }
    }
    res.end();
  };
  res.on("error", () => {});
  pump();
});

let sunk = 0;
const sink = netServer((s) => {
  s.on("data", (d) => {
    sunk += d.length;
  });
  s.on("end", () => s.end());
  s.on("error", () => {});
});

await Promise.all([
  new Promise((r) => http.listen({ host, port: Number(portArg), backlog: 1024 }, r)),
  new Promise((r) => sink.listen({ host, port: Number(sinkArg), backlog: 1024 }, r)),
]);
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(0));
console.log(`READY ${host}:${portArg} sink ${sinkArg}`);
process.stdin.on("data", (d) => {
  if (String(d).includes("count")) console.log(`COUNT ${JSON.stringify({ sunk })}`);
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
