/**
 * A pcap tap: a {@link Device} that wraps any device and records every frame
 * it receives and every frame the wrapped device takes to send, in a classic
 * pcap file (see ./writer.ts) that tcpdump and Wireshark open.
 *
 * Timestamps come from the `now` passed to rx/tx, read as milliseconds since
 * `epochMs` (default 0: the Unix epoch), or from a `clock` function of `now`;
 * a run on virtual time therefore writes the same file every time.
 *
 * A frame to send is recorded before it is handed to the wrapped device (a
 * NIC may release it during the call), and its record is taken back if the
 * device does not take it. Checksums the NIC fills (transmit offload) are
 * not in the file yet, as in a capture on a host with offloads.
 *
 * The file is written when the buffer fills, every `flushIntervalMs` of the
 * caller's time, on {@link PcapTap.flush} and on `close()`.
 *
 * @example
 * ```ts
 * import { createHeapZone } from "../../mem/heap.ts";
 * import { createMemoryLink } from "../memory/link.ts";
 * import { PcapTap } from "./tap.ts";
 * const [a, b] = createMemoryLink({ zone: createHeapZone({ count: 256 }) });
 * const tapped = new PcapTap(a, { path: "/tmp/a.pcap", epochMs: Date.UTC(2024, 0, 1) });
 * // ... use `tapped` as the device, then
 * tapped.close();
 * ```
 *
 * @module
 */
import { ConfigError } from "../../errors.ts";
import type { MemZone } from "../../mem/zone.ts";
import { DESC_WORDS, type Device, type DeviceOffloads } from "../device.ts";
import { PcapWriter, type PcapWriterOptions } from "./writer.ts";

/** Options of a {@link PcapTap}. */
export interface PcapTapOptions extends PcapWriterOptions {
  /** Timestamp of frames seen at `now`, in ms since the Unix epoch; default `epochMs + now`. */
  clock?: (now: number) => number;
  /** With the default clock: the Unix time (ms) that `now` counts from; default 0. */
  epochMs?: number;
  /** Writes the file at least this often, in the caller's ms; default 1000. */
  flushIntervalMs?: number;
  /** Bytes gathered before a write regardless of time; default 64 KiB. */
  flushBytes?: number;
  /** Name; default the wrapped device's with `+pcap`. */
  name?: string;
}

/** A device that records the frames of another in a pcap file; see the module documentation. */
export class PcapTap implements Device {
  readonly name: string;
  readonly zone: MemZone;
  readonly mac: Uint8Array;
  readonly mtu: number;
  readonly offloads: DeviceOffloads;
  /** The wrapped device. */
  readonly inner: Device;
  /** The file's writer. */
  readonly writer: PcapWriter;
  private readonly _clock: ((now: number) => number) | null;
  private readonly _epochSec: number; // epochMs in whole seconds,
  private readonly _epochMs: number; // and the rest
  private readonly _flushIntervalMs: number;
  private readonly _flushBytes: number;
  private _lastFlush = NaN; // the caller's time of the last write; set by the first call
  private _closed = false;

  /** Wraps `inner` and creates the file; `close()` closes both. */
  constructor(inner: Device, options: PcapTapOptions) {
    const epochMs = options.epochMs ?? 0;
    if (!Number.isFinite(epochMs)) {
      throw new ConfigError("epochMs", `expected a finite number, got ${epochMs}`);
    }
    const interval = options.flushIntervalMs ?? 1000;
    if (!(interval >= 0)) throw new ConfigError("flushIntervalMs", `expected a number >= 0, got ${interval}`);
    const flushBytes = options.flushBytes ?? 1 << 16;
    if (!Number.isInteger(flushBytes) || flushBytes < 0) {
      throw new ConfigError("flushBytes", `expected an integer >= 0, got ${flushBytes}`);
    }
    this.inner = inner;
    this.name = options.name ?? `${inner.name}+pcap`;
    this.zone = inner.zone;
    this.mac = inner.mac;
    this.mtu = inner.mtu;
    // The file holds frames as they leave: no large segments (chains of
    // records) pass through the tap, so TCP sends MSS-sized ones.
    this.offloads = { ...inner.offloads, txSegmentMax: 0, frameChains: false };
    this._clock = options.clock ?? null;
    this._epochSec = Math.floor(epochMs / 1000);
    this._epochMs = epochMs - this._epochSec * 1000;
    this._flushIntervalMs = interval;
    this._flushBytes = flushBytes;
    this.writer = new PcapWriter(options);
  }

  /** Receives from the wrapped device and records what came. */
  rx(descs: Uint32Array, max: number, now: number): number {
    const n = this.inner.rx(descs, max, now);
    if (n > 0 && !this._closed) {
      const w = this.writer;
      const z = this.zone;
      this._stamp(now);
      for (let k = 0; k < n; k++) {
        const at = k * DESC_WORDS;
        const word = descs[at + 1];
        w.append(z.bytes, z.view, descs[at] + z.dataRoomOffset + (word & 0xffff), word >>> 16);
      }
    }
    this._maybeFlush(now);
    return n;
  }

  /** Records the frames, hands them to the wrapped device, and takes back the records of those it refused. */
  tx(descs: Uint32Array, n: number, now: number): number {
    if (this._closed) return this.inner.tx(descs, n, now);
    if (!(n >= 0) || n * DESC_WORDS > descs.length) {
      throw new RangeError(`tx: ${n} records asked, room for ${Math.floor(descs.length / DESC_WORDS)}`);
    }
    const w = this.writer;
    const z = this.zone;
    let need = 0;
    for (let k = 0; k < n; k++) need += w.recordLen(descs[k * DESC_WORDS + 1] >>> 16);
    w.reserve(need);
    const mark = w.mark;
    this._stamp(now);
    for (let k = 0; k < n; k++) {
      const at = k * DESC_WORDS;
      const word = descs[at + 1];
      w.append(z.bytes, z.view, descs[at] + z.dataRoomOffset + (word & 0xffff), word >>> 16);
    }
    const sent = this.inner.tx(descs, n, now);
    if (sent < n) {
      let end = mark;
      for (let k = 0; k < sent; k++) end += w.recordLen(descs[k * DESC_WORDS + 1] >>> 16);
      w.rewind(end, n - sent);
    }
    this._maybeFlush(now);
    return sent;
  }

  /** The wrapped device's. */
  pollAt(now: number): number {
    return this.inner.pollAt(now);
  }

  /** Writes the records gathered so far to the file. */
  flush(): void {
    if (!this._closed) this.writer.flush();
  }

  /** Writes and closes the file, then closes the wrapped device. */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    try {
      this.writer.close();
    } finally {
      this.inner.close();
    }
  }

  /** Notes the time of the next frame written. */
  private _stamp(now: number): void {
    if (this._clock === null) this.writer.setTime(this._epochMs + now, this._epochSec);
    else this.writer.setTime(this._clock(now));
  }

  /** Flushes the file when its interval has passed. */
  private _maybeFlush(now: number): void {
    if (this._closed) return;
    if (this._lastFlush !== this._lastFlush) this._lastFlush = now;
    const w = this.writer;
    if (w.buffered === 0) return;
    if (w.buffered >= this._flushBytes || now - this._lastFlush >= this._flushIntervalMs) {
      w.flush();
      this._lastFlush = now;
    }
  }
}
