// A user's program for tests/package_test.ts, compiled into one executable:
// an echo server on a DPDK device. Usage: app DEVICE CIDR PREFIX
import { type Connection, createStack } from "luna-ts";

const [device, address, prefix] = process.argv.slice(2);
if (device === undefined || address === undefined || prefix === undefined) {
  console.error("usage: app DEVICE CIDR PREFIX");
  process.exit(2);
}
const stack = await createStack({ device, address, eal: { prefix }, coexist: false });
const echo = (c: Connection): void => {
  const buf = new Uint8Array(2048);
  for (let n = c.read(buf); n > 0; n = c.read(buf)) c.write(buf.subarray(0, n));
};
const port = stack.listen(7, () => ({ onData: echo, onEnd: (c) => c.close() }));
process.on("SIGTERM", () => {
  void stack.close(200).then(() => {
    console.log("CLOSED");
    process.exit(0);
  });
});
console.log(`READY ${port}`);
await stack.run();
