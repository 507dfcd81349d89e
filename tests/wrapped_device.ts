/**
 * A device that hands every call to the device it wraps: the base of the
 * tests' wrappers, which override rx() or tx() to watch, count or hold what
 * passes.
 *
 * @module
 */
import type { Device } from "../src/device/device.ts";

/** Passes everything to `inner`; subclasses override what they watch. */
export class WrappedDevice implements Device {
  constructor(readonly inner: Device) {}
  get name(): string {
    return this.inner.name;
  }
  get zone(): Device["zone"] {
    return this.inner.zone;
  }
  get mac(): Uint8Array {
    return this.inner.mac;
  }
  get mtu(): number {
    return this.inner.mtu;
  }
  get offloads(): Device["offloads"] {
    return this.inner.offloads;
  }
  rx(descs: Uint32Array, max: number, now: number): number {
    return this.inner.rx(descs, max, now);
  }
  tx(descs: Uint32Array, n: number, now: number): number {
    return this.inner.tx(descs, n, now);
  }
  pollAt(now: number): number {
    return this.inner.pollAt(now);
  }
  close(): void {
    this.inner.close();
  }
}
