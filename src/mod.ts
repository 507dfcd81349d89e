/**
 * luna-ts: a user-space TCP/IP stack for Bun and Deno over DPDK.
 *
 * @example
 * ```ts
 * import { createStack } from "luna-ts";
 * const stack = await createStack({ device: "af_packet:veth0", address: "198.18.0.2/24" });
 * stack.listen(7, () => ({
 *   onData(c) {
 *     const buf = new Uint8Array(4096);
 *     c.write(buf.subarray(0, c.read(buf)));
 *   },
 * }));
 * await stack.run();
 * ```
 *
 * @module
 */
export { createStack, Stack, type StackStats } from "./api/stack.ts";
export { parseStackConfig, type StackConfig, type StackConfigInput, stackConfigSchema } from "./api/config.ts";
export { Connection, type ConnectionHandlers, type ConnectionStats, type TxBuffer } from "./api/connection.ts";
export { ConnStream, connectStream, listenStreams, type NetAddr } from "./api/conn_stream.ts";
export * from "./errors.ts";
export { createHeapZone, MemZone, type ZoneAccounting } from "./mem/mod.ts";
export {
  createMemoryLink,
  type Device,
  Dpdk,
  DpdkDevice,
  FaultInjector,
  PcapTap,
  Port,
} from "./device/mod.ts";
export { parseDeviceSpec } from "./device/spec.ts";
export { type LoopMode } from "./loop/loop.ts";
export { type TcpConfig, tcpDefaults } from "./tcp/config.ts";
export { LunaHttpServer, serve, type ServeInfo, type ServeOptions, type ServeStats } from "./web/serve.ts";
