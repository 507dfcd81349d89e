// Makes, closes and makes again stacks in one process, the first of them one
// that fails, and two at once; reports what each step did and what DPDK left
// behind. Usage: stack_lifecycle.ts PREFIX
import { existsSync, readdirSync } from "node:fs";
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
const a = await createStack({ device: "eal:net_null0", address: "198.18.0.1/24", eal });
const b = await createStack({ device: "eal:net_null0", address: "198.18.0.2/24", eal });
out.together = [a.device.name, b.device.name];
await a.close();
await b.close();
try {
  await createStack({ device: "eal:net_null0", address: "198.18.0.1/24", eal: { ...eal, memoryMb: 300 } });
  out.otherEal = "no error";
} catch (e) {
  out.otherEal = `${(e as Error).name}: ${(e as Error).message}`;
}
out.leftAtEnd = left();
console.log("RESULT " + JSON.stringify(out));
