/**
 * A DPDK port queue as a {@link Device}.
 *
 * @module
 */
import { Offload } from "../../../ffi/symbols.ts";
import type { Device, DeviceOffloads } from "../device.ts";
import type { DpdkZone } from "./pool.ts";
import type { Port } from "./port.ts";

/** One queue pair of a configured, started port. */
export class DpdkDevice implements Device {
  readonly name: string;
  readonly zone: DpdkZone;
  readonly mac: Uint8Array;
  readonly mtu: number;
  readonly offloads: DeviceOffloads;
  readonly port: Port;
  readonly queue: number;

  /** Wraps `queue` of `port`; offloads are those the port was configured with. */
  constructor(port: Port, queue = 0, configured: { rxOffloads?: number; txOffloads?: number } = {}) {
    const info = port.describe();
    this.port = port;
    this.queue = queue;
    this.name = `${port.name}/${queue}`;
    this.zone = port.zone;
    this.mac = port.mac();
    this.mtu = info.mtu;
    const cksum = Offload.ipv4Cksum | Offload.tcpCksum;
    this.offloads = {
      rxChecksum: ((configured.rxOffloads ?? 0) & cksum) === cksum,
      txChecksum: ((configured.txOffloads ?? 0) & cksum) === cksum,
    };
  }

  rx(descs: Uint32Array, max: number, _now: number): number {
    return this.port.rx(this.queue, descs, max);
  }

  tx(descs: Uint32Array, n: number, _now: number): number {
    return this.port.tx(this.queue, descs, n);
  }

  pollAt(_now: number): number {
    return Infinity; // a NIC delivers when it delivers: the loop polls it
  }

  close(): void {
    // The port belongs to the Dpdk instance, which stops and closes it.
  }
}
