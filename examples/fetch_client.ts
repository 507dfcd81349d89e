/**
 * A client on luna-ts fetching from a server on the kernel's TCP: node's own
 * HTTP client (node:http `request`) over a luna-ts/net socket. Prints the
 * status line's code, then the body, and exits (status 1 on an error or a
 * status other than 2xx).
 *
 * Run (as root; a kernel server at 198.18.0.1, e.g. `python3 -m http.server 8000`):
 *   bun examples/fetch_client.ts --device af_packet:veth0 --address 198.18.0.2/24 --url http://198.18.0.1:8000/
 *
 * @module
 */
import { request } from "node:http";
import { connect } from "../src/api/net.ts";
import { exampleArgs, exampleStack } from "./_example.ts";

const a = exampleArgs("fetch_client.ts --device SPEC --address CIDR --url http://HOST:PORT/PATH", [
  "device",
  "url",
]);
const url = new URL(a.url);
if (url.protocol !== "http:" || !/^\d+\.\d+\.\d+\.\d+$/.test(url.hostname)) {
  console.error(`--url: '${a.url}' is not http://IPV4[:PORT]/PATH`);
  process.exit(2);
}
const stack = await exampleStack(a);
const running = stack.run();

let status = 0;
try {
  const body = await new Promise<Uint8Array>((resolve, reject) => {
    const req = request({
      host: url.hostname,
      port: Number(url.port || 80),
      path: url.pathname + url.search,
      createConnection: () => connect(stack, { host: url.hostname, port: Number(url.port || 80) }) as never,
    }, (res) => {
      status = res.statusCode ?? 0;
      const parts: Uint8Array[] = [];
      res.on("data", (d: Uint8Array) => parts.push(d));
      res.on("end", () => resolve(Buffer.concat(parts)));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.setTimeout(10_000, () => req.destroy(new Error("no answer within 10 s")));
    req.end();
  });
  console.log(`STATUS ${status}`);
  process.stdout.write(body);
} catch (e) {
  console.error(`fetch ${a.url}: ${(e as Error).message}`);
  status = 0;
}
await stack.close(500);
await running;
process.exit(status >= 200 && status < 300 ? 0 : 1);
