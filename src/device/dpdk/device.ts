/**
 * A DPDK port queue as a {@link Device}.
 *
 * @module
 */
import { Offload } from "../../../ffi/symbols.ts";
import type { Device, DeviceOffloads } from "../device.ts";
import type { DpdkZone } from "./pool.ts";
import type { Port } from "./port.ts";

/**
 * TCP payload bytes of one large segment: its IPv4 packet, with the longest
 * TCP header, within the 16-bit total length.
 */
export const segmentMaxBytes = 65535 - 20 - 60;
const ethernetHeaderBytes = 14;

/** One queue pair of a configured, started port. */
export class DpdkDevice implements Device {
  readonly name: string;
  readonly zone: DpdkZone;
  readonly mac: Uint8Array;
  readonly mtu: number;
  readonly offloads: DeviceOffloads;
  /** The port. */
  readonly port: Port;
  /** The queue pair of the port this device uses. */
  readonly queue: number;

  /**
   * Wraps `queue` of `port` (configured and started). `txOffloads`: the
   * transmit offload bits the port was configured with (a Worker's port was
   * configured by another thread).
   */
  constructor(port: Port, queue = 0, txOffloads = port.txOffloads) {
    const info = port.describe();
    this.port = port;
    this.queue = queue;
    this.name = `${port.name}/${queue}`;
    this.zone = port.zone;
    this.mac = port.mac();
    this.mtu = info.mtu;
    // The shim verifies and fills IPv4 and TCP checksums over each burst, in
    // hardware where the port offers it and in C where it does not: either
    // way the stack leaves them to the device.
    // Large TCP segments go as chains that the port (TSO) or the shim (GSO)
    // cuts, where the port was configured for it.
    const seg = (txOffloads & (Offload.tcpTso | Offload.tcpGso)) !== 0;
    // A port whose frames are longer than a buffer (memif above jumbo frames: open.ts) chains
    // buffers both ways; the shim sends a chain whole where it need not cut it.
    const frameChains = seg && info.mtu + ethernetHeaderBytes > this.zone.dataRoomSize - this.zone.headroom;
    this.offloads = {
      rxChecksum: true,
      txChecksum: true,
      txSegmentMax: seg ? segmentMaxBytes : 0,
      frameChains,
    };
  }

  rx(descs: Uint32Array, max: number, _now: number): number {
    return this.port.rx(this.queue, descs, max);
  }

  tx(descs: Uint32Array, n: number, _now: number): number {
    return this.port.tx(this.queue, descs, n);
  }

  /** The shim holds segments of a large one for the next tx call. */
  get txPending(): boolean {
    return this.port.txBacklog[this.queue] !== 0;
  }

  pollAt(now: number): number {
    // A NIC delivers when it delivers: the loop polls it. Segments the shim
    // holds back leave at the next tx call, which should come soon.
    return this.port.txBacklog[this.queue] !== 0 ? now : Infinity;
  }

  close(): void {
    // The port belongs to the Dpdk instance, which stops and closes it.
  }
}
