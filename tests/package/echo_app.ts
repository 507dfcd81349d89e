// A user's program, copied into scratch projects by tests/package_test.ts:
// two stacks joined by the in-memory link, an echo server on one, a client on
// the other; prints the echoed text and the port listen(0) picked.
import { type Connection, createHeapZone, createMemoryLink, createStack } from "luna-ts";
import { createServer } from "luna-ts/net";

const zoneA = createHeapZone({ name: "a", count: 1024 });
const zoneB = createHeapZone({ name: "b", count: 1024 });
const [linkA, linkB] = createMemoryLink({ zone: zoneA, zoneB });
const server = await createStack({ device: linkA, address: "198.18.0.1/24" });
const client = await createStack({ device: linkB, address: "198.18.0.2/24" });
void server.run();
void client.run();

const echo = (c: Connection): void => {
  const buf = new Uint8Array(2048);
  for (let n = c.read(buf); n > 0; n = c.read(buf)) c.write(buf.subarray(0, n));
};
const port = server.listen(7, () => ({ onData: echo, onEnd: (c) => c.close() }));
const text = "hello through luna-ts";
let got = "";
const done = new Promise<void>((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`no echo in 10 s (got '${got}')`)), 10_000);
  client.connect("198.18.0.1", port, {
    onOpen: (c) => void c.write(new TextEncoder().encode(text)),
    onData: (c) => {
      const buf = new Uint8Array(2048);
      for (let n = c.read(buf); n > 0; n = c.read(buf)) got += new TextDecoder().decode(buf.subarray(0, n));
      if (got.length >= text.length) {
        clearTimeout(timer);
        c.close();
        resolve();
      }
    },
  });
});
await done;
const net = createServer(server, () => {}).listen(0);
const picked: number = net.address()?.port ?? -1;
await client.close(100);
await server.close(100);
console.log(`ECHO ${got} PORT ${picked}`);
