// A luna stack that coexists with the kernel in its namespace and serves a
// one-line HTTP answer naming the address it uses now, on port 8080.
// Usage: kernel_serve.ts '{"prefix":..., "device":"af_packet:luna0", "coexist":{...}, "address"?:...}'
// Prints `READY {...}` once serving, `IFACE ...` when its address changes; stops cleanly on request and prints
// `RESULT {...}` (its stats, and the error of the stop if any). Stops on
// "stop" on stdin, SIGTERM or SIGINT.
import { createStack } from "../../src/mod.ts";
import { formatIpv4 } from "../../src/wire/mod.ts";

const cfg = JSON.parse(process.argv[2]);
const stack = await createStack({
  device: cfg.device,
  address: cfg.address,
  coexist: cfg.coexist ?? true,
  eal: { prefix: cfg.prefix, memoryMb: 256 },
  buffers: 4095,
});

const enc = new TextEncoder();
let served = 0;
stack.listen(8080, () => {
  let head = "";
  return {
    onData(c) {
      const buf = new Uint8Array(4096);
      for (let n = c.read(buf); n > 0; n = c.read(buf)) head += new TextDecoder().decode(buf.subarray(0, n));
      if (!head.includes("\r\n\r\n")) return;
      const body = `luna ${formatIpv4(stack.ip.iface.address)}\n`;
      c.write(
        enc.encode(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`),
      );
      served++;
      c.close();
    },
    onEnd(c) {
      c.close();
    },
  };
});

const running = stack.run();
// Says when the kernel's configuration moved the stack's interface (`IFACE 198.18.0.5/24 ...`).
let shown = stack.ip.iface.toString();
setInterval(() => {
  const now = stack.ip.iface.toString();
  if (now !== shown) console.log(`IFACE ${(shown = now)}`);
}, 20);
console.log(`READY ${JSON.stringify({ iface: stack.ip.iface.toString(), kernel: stack.stats().kernel })}`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await stack.stop();
  const stats = stack.stats();
  let error: string | undefined;
  try {
    await stack.close(1000);
  } catch (e) {
    error = (e as Error).message;
  }
  await running;
  console.log(
    `RESULT ${
      JSON.stringify({ served, kernel: stats.kernel, ip: stats.ip, tcp: stats.tcp, zone: stats.zone, error })
    }`,
  );
  process.exit(error === undefined ? 0 : 1);
}
// "stop" on stdin (a signal's exit status is not reported alike by every runtime's child_process).
process.stdin.setEncoding("utf8");
process.stdin.on("data", (d: string) => {
  if (d.includes("stop")) void stop();
});
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
