/**
 * What the stack sees of a link: a device that moves bursts of descriptor
 * records (the same records as the DPDK shim's, see ffi/symbols.ts) whose
 * buffers belong to a {@link MemZone}. DPDK ports, the in-memory link, the
 * fault injector and the pcap tap all have this shape, so each can wrap
 * another and the stack cannot tell them apart.
 *
 * Time is passed in (`now`, milliseconds on the caller's clock): devices
 * never read a clock, which keeps the in-memory link deterministic.
 *
 * @module
 */
import type { MemZone } from "../mem/zone.ts";

export {
  BURST_MAX,
  CHAIN_RECORDS_MAX,
  DESC_WORDS,
  GSO_SEGS_MAX,
  RxFlag,
  SEG_MSS_SHIFT,
  TxFlag,
} from "../../ffi/symbols.ts";

/**
 * A receive flag no port sets: a device wrapper that classified the frame
 * (the kernel bridge) put the id of the connection it belongs to in word 3
 * of the descriptor, where the RSS hash was, as a NIC's flow director puts
 * the mark of the rule a packet matched there. The TCP layer starts its
 * dispatch from that connection instead of looking the 4-tuple up again.
 */
export const rxFlowMark = 1 << 24;

/** Offloads a device does for the stack. */
export interface DeviceOffloads {
  /** Received frames carry checksum verdicts (RxFlag) for IPv4 and TCP/UDP. */
  rxChecksum: boolean;
  /** The device fills IPv4 and TCP/UDP checksums of frames sent with TxFlag bits. */
  txChecksum: boolean;
  /**
   * Bytes of TCP payload the device takes in one large segment, which it
   * cuts into segments of the MSS given with it (TSO, or GSO in software);
   * 0 or absent: none. Such a packet may span records (TxFlag.more: the
   * next record continues it), and the device fills the checksums of the
   * segments it cuts, whatever `txChecksum` says. A device that takes
   * chains returns from tx only at packet boundaries.
   */
  txSegmentMax?: number;
  /**
   * Frames longer than one of the zone's buffers, up to the MTU, go out as
   * chains of records (a TxFlag.tcpSeg chain whose payload fits the MSS it
   * gives is sent whole, not cut) and arrive as chains (RxFlag.more): the
   * MTU, not a buffer, bounds a segment. Absent: every frame is one buffer.
   */
  frameChains?: boolean;
}

/** A link endpoint; see the module documentation. */
export interface Device {
  /** Name, for messages and stats. */
  readonly name: string;
  /** The zone that received buffers come from and that sent buffers must belong to. */
  readonly zone: MemZone;
  /** The endpoint's MAC address (6 bytes). */
  readonly mac: Uint8Array;
  /** Largest IP packet the link carries, bytes. */
  readonly mtu: number;
  /** What the device computes in place of the stack. */
  readonly offloads: DeviceOffloads;
  /**
   * Receives up to `max` frames into `descs` (DESC_WORDS per frame) and
   * returns how many. The buffers become the caller's.
   */
  rx(descs: Uint32Array, max: number, now: number): number;
  /**
   * Sends the first `n` frames described by `descs`; returns how many
   * records the device took (those buffers are the device's now), in order
   * and never part of a chain. The rest remain the caller's.
   */
  tx(descs: Uint32Array, n: number, now: number): number;
  /**
   * True while the device holds frames that it sends only from inside a
   * {@link tx} call (segments of a large one the NIC took part of): the
   * caller then calls tx even with no record to add.
   */
  readonly txPending?: boolean;
  /** The earliest time at which the device will have a frame to deliver without being sent one; Infinity if none. */
  pollAt(now: number): number;
  /** Releases what the device holds. */
  close(): void;
  /**
   * Frames moved that {@link rx} did not return (a bridge forwarding others'
   * traffic), as a running count; the loop treats a change as work.
   */
  readonly activity?: number;
}
