// node's HTTP client on luna-ts sockets: fetches from a node:http server on the
// kernel's TCP (tests/children/node_compat_peer.mjs) through af_packet.
//   node_compat_client.ts PREFIX IFACE CIDR SERVER_IP PORT DOWN_BYTES UP_BYTES
// 1. http.get with createConnection returning a LunaSocket: GET /bytes/DOWN_BYTES
// 2. http.request the same way: POST /sha256 with UP_BYTES random bytes
// 3. an http.Agent with keepAlive whose createConnection makes LunaSockets: 20 GETs
// 4. HTTP/1.1 spoken by hand over a LunaSocket: GET /bytes/100000, Connection: close
// Prints RESULT {down, up, keepAlive, byHand, activeOpens}.
import { Buffer } from "node:buffer";
import { createHash, randomBytes } from "node:crypto";
import * as http from "node:http";
import type { Duplex } from "node:stream";
import { connect } from "../../src/api/net.ts";
import { createStack } from "../../src/mod.ts";

const [prefix, iface, cidr, host, portArg, downArg, upArg] = process.argv.slice(2);
const port = Number(portArg);
const stack = await createStack({ device: `af_packet:${iface}`, address: cidr, eal: { prefix } });
void stack.run();
const lunaSocket = (): Duplex => connect(stack, { host, port });

/** Sends a request; resolves with the status, the body's length and SHA-256, and the body if small. */
function fetch(
  options: http.RequestOptions,
  body?: Uint8Array,
): Promise<{ status: number; bytes: number; sha256: string; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, ...options }, (res) => {
      const h = createHash("sha256");
      let bytes = 0;
      let text = "";
      res.on("data", (d: Buffer) => {
        h.update(d);
        bytes += d.length;
        if (text.length < 1000) text += d.toString("latin1");
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, bytes, sha256: h.digest("hex"), text }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

const result: Record<string, unknown> = {};
try {
  result.down = await fetch(
    { path: `/bytes/${downArg}`, createConnection: lunaSocket } as http.RequestOptions,
  );

  const up = new Uint8Array(randomBytes(Number(upArg)));
  const answer = await fetch(
    { method: "POST", path: "/sha256", createConnection: lunaSocket } as http.RequestOptions,
    up,
  );
  result.up = {
    sent: up.length,
    sha256: createHash("sha256").update(up).digest("hex"),
    answer: answer.text.trim(),
  };

  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let connections = 0;
  (agent as unknown as { createConnection: () => Duplex }).createConnection = () => {
    connections++;
    return lunaSocket();
  };
  let ok = 0;
  for (let i = 0; i < 20; i++) {
    const r = await fetch({ path: `/r/${i}`, agent });
    if (r.status === 200 && r.text === `ok /r/${i}`) ok++;
  }
  agent.destroy();
  result.keepAlive = { requests: 20, ok, connections };

  result.byHand = await new Promise((resolve, reject) => {
    const s = connect(stack, { host, port });
    const chunks: Buffer[] = [];
    s.on("data", (d: Buffer) => chunks.push(d));
    s.on("error", reject);
    s.on("end", () => {
      const all = Buffer.concat(chunks);
      const head = all.indexOf("\r\n\r\n");
      const body = all.subarray(head + 4);
      resolve({
        status: all.subarray(0, head).toString("latin1").split("\r\n")[0],
        bytes: body.length,
        sha256: createHash("sha256").update(body).digest("hex"),
      });
    });
    s.write(`GET /bytes/100000 HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  });
} catch (e) {
  result.error = String(e);
}
result.activeOpens = stack.stats().tcp.activeOpens;
await stack.close(1000);
console.log("RESULT " + JSON.stringify(result));
process.exit(0);
