// The CPUs the process may run on before and after the EAL starts with its
// default lcore mapping. Usage: eal_affinity.ts PREFIX
import { readFileSync } from "node:fs";
import { Dpdk } from "../../src/device/dpdk/mod.ts";

const allowed = () => /^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];

const before = allowed();
const dpdk = await Dpdk.start({ prefix: process.argv[2] });
const after = allowed();
dpdk.close();
console.log("RESULT " + JSON.stringify({ before, after }));
