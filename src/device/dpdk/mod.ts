/**
 * The DPDK device: EAL, ports and packet pools through the C shim.
 *
 * @module
 */
export { Dpdk, ealArgs, type EalOptions } from "./eal.ts";
export { dataRoomForMtu, DpdkZone, type DpdkZoneOptions } from "./pool.ts";
export { type LinkStatus, Port, type PortConfig, type PortDescription, type PortStats } from "./port.ts";
export { openDpdkPort, type OpenedPort, type OpenPortOptions, type PortEalOptions } from "./open.ts";
