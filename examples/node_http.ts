/**
 * node:http and HTTPS (node:tls), unchanged, over luna-ts: the servers are
 * node's own; luna-ts/net's listenNode hands them luna-ts sockets, through a
 * node:tls server socket on port 443 (keep-alive works on Bun and Deno
 * alike). Port 80 serves HTTP, port 443 HTTPS with the certificate and key
 * given.
 *
 * - `GET /hello`       a short text
 * - `POST /sha256`     the SHA-256 of the request body, in hex
 *
 * Run (as root; make a certificate with
 * `openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 1 -subj /CN=luna.test`):
 *   bun examples/node_http.ts --device af_packet:veth0 --address 198.18.0.2/24 --cert cert.pem --key key.pem
 * then: `curl http://198.18.0.2/hello`, `curl -k https://198.18.0.2/hello`.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer as createHttp, type IncomingMessage, type ServerResponse } from "node:http";
import { listenNode } from "../src/api/net.ts";
import { exampleArgs, exampleStack, runUntilSignal } from "./_example.ts";

const a = exampleArgs(
  "node_http.ts --device SPEC --address CIDR --cert cert.pem --key key.pem [--mode batch|inline]",
  ["device", "cert", "key"],
);
const stack = await exampleStack(a);

function handle(req: IncomingMessage, res: ServerResponse): void {
  if (req.url === "/hello") {
    res.end(`hello over ${"encrypted" in req.socket ? "https" : "http"} on luna-ts\n`);
  } else if (req.url === "/sha256" && req.method === "POST") {
    const h = createHash("sha256");
    req.on("data", (d: Uint8Array) => h.update(d));
    req.on("end", () => res.end(h.digest("hex") + "\n"));
  } else {
    res.writeHead(404).end("not found\n");
  }
}

const http = createHttp(handle);
const https = createHttp(handle); // node:http behind TLS: HTTPS
listenNode(http, stack, 80);
listenNode(https, stack, 443, { tls: { cert: readFileSync(a.cert), key: readFileSync(a.key) } });
console.log(`READY node:http on :80 and node:https on :443 of ${a.address ?? "the kernel's address"}`);
await runUntilSignal(stack, () => {
  http.close();
  https.close();
});
