// Registers a Worker thread with the EAL and has it use the main thread's
// pool through the shim. Usage: worker_register.ts PREFIX
import { Dpdk } from "../../src/device/dpdk/mod.ts";

const [prefix] = process.argv.slice(2);
const dpdk = await Dpdk.start({ prefix });
const zone = dpdk.createZone("shared", { count: 1023, cache: 32 });
const mainLcore = dpdk.registerThread();

const worker = new Worker(new URL("./_register_worker.ts", import.meta.url).href, { type: "module" });
const reply = await new Promise<Record<string, unknown>>((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error("the worker did not answer")), 20_000);
  worker.onmessage = (e: MessageEvent) => {
    clearTimeout(timer);
    resolve(e.data);
  };
  worker.onerror = (e: Event) => {
    clearTimeout(timer);
    reject(new Error(`worker error: ${(e as ErrorEvent).message}`));
  };
  worker.postMessage({ pool: zone.pool });
});
worker.terminate();
zone.flush();
const result = { mainLcore, ...reply, accounting: zone.accounting() };
dpdk.close();
console.log("RESULT " + JSON.stringify(result));
