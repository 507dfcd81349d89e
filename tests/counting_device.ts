/**
 * A device wrapper that counts what its transmit side sends: calls, bursts
 * (calls with frames), frames, and frames without TCP payload (pure ACKs and
 * other bare headers). For tests and benches on the in-memory link.
 *
 * @module
 */
import { DESC_WORDS, type Device } from "../src/device/device.ts";
import { WrappedDevice } from "./wrapped_device.ts";

/** A device that counts what its transmit side sends. */
export class CountingDevice extends WrappedDevice {
  /** Calls of tx(), frames or not. */
  calls = 0;
  bursts = 0;
  frames = 0;
  /** Frames with no TCP payload (Ethernet + IPv4 without options + the TCP header alone). */
  empty = 0;
  /** Calls of rx(), and those that returned frames. */
  rxCalls = 0;
  rxBursts = 0;
  /** While true, tx() takes no frame (a ring that is full), counting the call all the same. */
  refuse = false;
  /** When set, each rx() and tx() call with frames appends `rx N` / `tx N` (the order of the calls). */
  log: string[] | undefined;
  constructor(d: Device) {
    super(d);
  }
  override rx(descs: Uint32Array, max: number, now: number): number {
    this.rxCalls++;
    const n = this.inner.rx(descs, max, now);
    if (n > 0) this.rxBursts++;
    if (n > 0) this.log?.push(`rx ${n}`);
    return n;
  }
  override tx(descs: Uint32Array, n: number, now: number): number {
    this.calls++;
    if (n > 0) this.log?.push(`tx ${n}`);
    if (this.refuse) return 0;
    if (n > 0) this.bursts++;
    const z = this.inner.zone;
    for (let i = 0; i < n; i++) {
      const w = descs[i * DESC_WORDS + 1];
      const at = z.dataStart(descs[i * DESC_WORDS]) + (w & 0xffff);
      if ((w >>> 16) === 34 + (z.bytes[at + 46] >> 4) * 4) this.empty++;
    }
    const k = this.inner.tx(descs, n, now);
    this.frames += k;
    return k;
  }
}
