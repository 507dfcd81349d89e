/**
 * A DPDK port queue as a {@link Device}.
 *
 * @module
 */
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

  /** Wraps `queue` of `port` (configured and started). */
  constructor(port: Port, queue = 0) {
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
    this.offloads = { rxChecksum: true, txChecksum: true };
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
