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
export {
  type ControlSettings,
  type EalSettings,
  type FaultSettings,
  parseStackConfig,
  type StackConfig,
  type StackConfigInput,
} from "./api/config.ts";
export { Connection, type ConnectionHandlers, type ConnectionStats, type TxBuffer } from "./api/connection.ts";
export { ConnStream, connectStream, listenStreams, type NetAddr } from "./api/conn_stream.ts";
export * from "./errors.ts";
export { createHeapZone, type HeapZoneOptions, MemZone, type ZoneAccounting } from "./mem/mod.ts";
export {
  createMemoryLink,
  type Device,
  type DeviceOffloads,
  Dpdk,
  DpdkDevice,
  DpdkZone,
  FaultCounters,
  FaultInjector,
  type FaultOptions,
  LinkCounters,
  MemoryEndpoint,
  type MemoryLinkOptions,
  PcapTap,
  PcapWriter,
  Port,
} from "./device/mod.ts";
export type { DpdkZoneOptions, LinkStatus, PortConfig, PortDescription, PortStats } from "./device/dpdk/mod.ts";
export type { LinkDirectionOptions } from "./device/memory/link.ts";
export { type DeviceSpec, type DeviceSpecOptions, parseDeviceSpec } from "./device/spec.ts";
export { type LoopMode, type LoopStalls } from "./loop/loop.ts";
export { type LossDetection, type TcpConfig, tcpDefaults } from "./tcp/config.ts";
export type { CongestionName } from "./tcp/congestion.ts";
export type { BbrInfo } from "./tcp/bbr.ts";
export type { EcnMode } from "./tcp/config.ts";
export type { IpStats } from "./ip/counters.ts";
export type { BridgeStats, PathCount } from "./kernel/bridge.ts";
export type { ControlStats } from "./kernel/control.ts";
export type { CoexistOptions } from "./kernel/coexist.ts";
export { LunaHttpServer, serve, type ServeInfo, type ServeOptions, type ServeStats } from "./web/serve.ts";
