// Makes, closes and makes again stacks in one process, the first of them one
// that fails, and two at once; reports what each step did and what DPDK left
// behind. Usage: stack_lifecycle.ts PREFIX
import { existsSync, readdirSync, rmSync } from "node:fs";
import { createStack } from "../../src/mod.ts";

const [prefix] = process.argv.slice(2);
const eal = { prefix };
const left = () =>
  ["/var/run/dpdk", "/run/dpdk", "/tmp/dpdk"].flatMap((d) =>
    existsSync(`${d}/${prefix}`) ? [`${d}/${prefix}: ${readdirSync(`${d}/${prefix}`).join(",")}`] : []
  );
const out: Record<string, unknown> = {};
try {
  await createStack({ device: "eal:net_bogus0", address: "198.18.0.1/24", eal });
  out.failed = "no error";
} catch (e) {
  out.failed = `${(e as Error).name}: ${(e as Error).message}`;
}
out.leftAfterFailed = left();
const ports: string[] = [];
for (let i = 0; i < 3; i++) {
  const s = await createStack({ device: "eal:net_null0", address: "198.18.0.1/24", eal });
  ports.push(s.device.name);
  await s.close();
}
out.remade = ports;
out.leftAfterClose = left();
// Two at once, talking: a memif server and its client in this one process, an echo between them.
const sock = `/tmp/${prefix}.sock`;
const a = await createStack({ device: `memif:${sock},server`, address: "198.18.0.1/24", eal });
const b = await createStack({ device: `memif:${sock},client`, address: "198.18.0.2/24", eal });
void a.run();
void b.run();
a.listen(7, () => ({
  onData: (c) => {
    const buf = new Uint8Array(2048);
    for (let n = c.read(buf); n > 0; n = c.read(buf)) c.write(buf.subarray(0, n));
  },
}));
let echoed = "";
await new Promise<void>((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error(`no echo in 20 s: '${echoed}'`)), 20_000);
  b.connect("198.18.0.1", 7, {
    onOpen: (c) => void c.write(new TextEncoder().encode("two stacks")),
    onData: (c) => {
      const buf = new Uint8Array(64);
      echoed += new TextDecoder().decode(buf.subarray(0, c.read(buf)));
      if (echoed === "two stacks") {
        clearTimeout(timer);
        resolve();
      }
    },
  });
});
out.together = [a.device.name, b.device.name, echoed];
await b.close(100);
await a.close(100);
rmSync(sock, { force: true });
try {
  await createStack({ device: "eal:net_null0", address: "198.18.0.1/24", eal: { ...eal, memoryMb: 300 } });
  out.otherEal = "no error";
} catch (e) {
  out.otherEal = `${(e as Error).name}: ${(e as Error).message}`;
}
out.leftAtEnd = left();
console.log("RESULT " + JSON.stringify(out));
