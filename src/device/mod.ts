/**
 * Devices: what the stack sends and receives frames through.
 *
 * @module
 */
export { BURST_MAX, type Device, type DeviceOffloads, DESC_WORDS, RxFlag, TxFlag } from "./device.ts";
export { DpdkDevice } from "./dpdk/device.ts";
export { Dpdk, DpdkZone, ealArgs, type EalOptions, Port } from "./dpdk/mod.ts";
export { createMemoryLink, LinkCounters, MemoryEndpoint, type MemoryLinkOptions } from "./memory/mod.ts";
export { FaultCounters, FaultInjector, type FaultOptions } from "./fault/mod.ts";
export { PcapTap, PcapWriter } from "./pcap/mod.ts";
export { TxBatch } from "./tx_batch.ts";
