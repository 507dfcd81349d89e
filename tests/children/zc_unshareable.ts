// The EAL on hugepages without --single-file-segments (raw arguments, as
// luna-ts never starts it): each page is a file of its own, which memif's
// zero-copy client cannot hand its peer as one region. Prints
// `RESULT {rc, error}`: what the shim's check says after a pool is made.
// Usage: zc_unshareable.ts PREFIX
import { Dpdk } from "../../src/device/dpdk/mod.ts";

const [prefix] = process.argv.slice(2);
const dpdk = await Dpdk.start([
  "luna",
  "--file-prefix",
  prefix,
  "-m",
  "64",
  "--no-pci",
  "--no-telemetry",
  "--in-memory",
]);
dpdk.createZone("zc", { count: 1023 });
const rc = dpdk.shim.symbols.luna_mem_shareable();
console.log("RESULT " + JSON.stringify({ rc, error: rc < 0 ? dpdk.shim.lastError().trim() : undefined }));
dpdk.close();
