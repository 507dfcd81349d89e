/**
 * Capture from a running stack: a {@link Device} that wraps the stack's
 * device and, while someone listens (`luna capture`), copies the frames it
 * receives and sends into pcap records for each {@link CaptureSession}.
 * With no session it only passes bursts through.
 *
 * Work per frame is bounded: a frame is matched against the session's
 * filter (a port, a host) by reading a few header bytes, and copied into
 * the session's fixed buffer, from which the control server writes to the
 * client. When a slow client lets the buffer fill, further frames are
 * dropped and counted (`dropped`), never queued without bound.
 *
 * Frames sent are recorded as the stack hands them to the device: a large
 * segment the device cuts (TSO/GSO) appears as one record, as in a capture
 * on a Linux host with segmentation offload.
 *
 * @module
 */
import { DESC_WORDS, type Device, type DeviceOffloads, TxFlag } from "../device/device.ts";
import { receivedRecords } from "../device/segment.ts";
import type { MemZone } from "../mem/zone.ts";

/** Bytes kept of a frame at most (tcpdump's default snap length). */
export const captureSnaplen = 262144;
/** Bytes a session buffers before its client reads them. */
export const captureBufferBytes = 1 << 21;

/** What a session keeps. */
export interface CaptureFilter {
  /** TCP or UDP port, either end. */
  port?: number;
  /** IPv4 address (as a number), either end. */
  host?: number;
  /** Frames to record, then the session is done. */
  count?: number;
}

/** The 24-byte pcap global header (microsecond timestamps, Ethernet). */
export function pcapGlobalHeader(snaplen: number = captureSnaplen): Uint8Array {
  const h = new Uint8Array(24);
  const v = new DataView(h.buffer);
  v.setUint32(0, 0xa1b2c3d4, true);
  v.setUint16(4, 2, true);
  v.setUint16(6, 4, true);
  v.setUint32(16, snaplen, true);
  v.setUint32(20, 1, true); // LINKTYPE_ETHERNET
  return h;
}

/** One listener's frames, as pcap records waiting to be written. */
export class CaptureSession {
  readonly filter: CaptureFilter;
  /** Frames recorded. */
  records = 0;
  /** Frames that matched while the buffer was full. */
  dropped = 0;
  #buf = new Uint8Array(captureBufferBytes);
  #view = new DataView(this.#buf.buffer);
  #pos = 0;
  readonly #epochMs: number;

  /** `epochMs`: the Unix time (ms) that the loop's clock counts from. */
  constructor(filter: CaptureFilter, epochMs: number) {
    this.filter = filter;
    this.#epochMs = epochMs;
  }

  /** Whether the count asked for is reached. */
  get full(): boolean {
    return this.filter.count !== undefined && this.records >= this.filter.count;
  }

  /** Takes the records gathered so far (a copy), emptying the buffer. */
  take(): Uint8Array {
    const out = this.#buf.slice(0, this.#pos);
    this.#pos = 0;
    return out;
  }

  /** Whether a frame starting at `off` passes the filter. */
  matches(bytes: Uint8Array, off: number, len: number): boolean {
    const f = this.filter;
    if (f.port === undefined && f.host === undefined) return true;
    if (len < 34 || bytes[off + 12] !== 0x08 || bytes[off + 13] !== 0x00) return false; // IPv4 only
    const ip = off + 14;
    if (f.host !== undefined) {
      const src =
        ((bytes[ip + 12] << 24) | (bytes[ip + 13] << 16) | (bytes[ip + 14] << 8) | bytes[ip + 15]) >>> 0;
      const dst =
        ((bytes[ip + 16] << 24) | (bytes[ip + 17] << 16) | (bytes[ip + 18] << 8) | bytes[ip + 19]) >>> 0;
      if (src !== f.host && dst !== f.host) return false;
    }
    if (f.port !== undefined) {
      const proto = bytes[ip + 9];
      if (proto !== 6 && proto !== 17) return false;
      const l4 = ip + (bytes[ip] & 0x0f) * 4;
      if (l4 + 4 > off + len) return false;
      const sp = (bytes[l4] << 8) | bytes[l4 + 1];
      const dp = (bytes[l4 + 2] << 8) | bytes[l4 + 3];
      if (sp !== f.port && dp !== f.port) return false;
    }
    return true;
  }

  /** Starts a record of a `len`-byte frame at `now`; returns false (counted) when there is no room. */
  begin(len: number, now: number): boolean {
    const cap = len < captureSnaplen ? len : captureSnaplen;
    if (this.#pos + 16 + cap > this.#buf.length) {
      this.dropped++;
      return false;
    }
    const ms = this.#epochMs + now;
    const sec = Math.floor(ms / 1000);
    const v = this.#view;
    v.setUint32(this.#pos, sec, true);
    v.setUint32(this.#pos + 4, Math.floor((ms - sec * 1000) * 1000), true);
    v.setUint32(this.#pos + 8, cap, true);
    v.setUint32(this.#pos + 12, len, true);
    this.#pos += 16;
    this.records++;
    return true;
  }

  /** Appends `n` bytes to the record begun (no more than its captured length). */
  append(bytes: Uint8Array, off: number, n: number): void {
    this.#buf.set(bytes.subarray(off, off + n), this.#pos);
    this.#pos += n;
  }
}

/** The device wrapper; see the module documentation. */
export class CaptureTap implements Device {
  readonly name: string;
  readonly zone: MemZone;
  readonly mac: Uint8Array;
  readonly mtu: number;
  readonly offloads: DeviceOffloads;
  readonly inner: Device;
  #sessions: CaptureSession[] = [];

  constructor(inner: Device) {
    this.inner = inner;
    this.name = inner.name;
    this.zone = inner.zone;
    this.mac = inner.mac;
    this.mtu = inner.mtu;
    this.offloads = inner.offloads;
  }

  get txPending(): boolean | undefined {
    return this.inner.txPending;
  }

  get activity(): number | undefined {
    return this.inner.activity;
  }

  /** Starts recording for `s` until {@link remove}. */
  add(s: CaptureSession): void {
    this.#sessions.push(s);
  }

  /** Stops recording for `s`. */
  remove(s: CaptureSession): void {
    this.#sessions = this.#sessions.filter((x) => x !== s);
  }

  /** Sessions recording. */
  get sessions(): number {
    return this.#sessions.length;
  }

  rx(descs: Uint32Array, max: number, now: number): number {
    const n = this.inner.rx(descs, max, now);
    if (n > 0 && this.#sessions.length > 0) {
      // A chained frame (longer than a buffer, or coalesced) is one packet of its records.
      for (let k = 0; k < n;) {
        const records = receivedRecords(descs, k, n);
        this.#record(descs, k, records, now);
        k += records;
      }
    }
    return n;
  }

  tx(descs: Uint32Array, n: number, now: number): number {
    if (this.#sessions.length === 0) return this.inner.tx(descs, n, now);
    // Recorded after the device took them: the bytes stay in place until the
    // buffer is taken again, which nothing does during this call.
    const sent = this.inner.tx(descs, n, now);
    for (let k = 0; k < sent;) {
      let records = 1;
      while (k + records - 1 < sent && (descs[(k + records - 1) * DESC_WORDS + 2] & TxFlag.more) !== 0) {
        records++;
      }
      this.#record(descs, k, records, now);
      k += records;
    }
    return sent;
  }

  pollAt(now: number): number {
    return this.inner.pollAt(now);
  }

  close(): void {
    this.#sessions = [];
    this.inner.close();
  }

  /** Records the packet of `records` descriptors from `k` (a chain when more than one). */
  #record(descs: Uint32Array, k: number, records: number, now: number): void {
    const z = this.zone;
    const first = k * DESC_WORDS;
    const off0 = z.dataStart(descs[first]) + (descs[first + 1] & 0xffff);
    const len0 = descs[first + 1] >>> 16;
    let total = 0;
    for (let r = 0; r < records; r++) total += descs[(k + r) * DESC_WORDS + 1] >>> 16;
    for (const s of this.#sessions) {
      if (s.full || !s.matches(z.bytes, off0, len0)) continue;
      if (!s.begin(total, now)) continue;
      let room = total < captureSnaplen ? total : captureSnaplen;
      for (let r = 0; r < records && room > 0; r++) {
        const at = (k + r) * DESC_WORDS;
        const len = descs[at + 1] >>> 16;
        const n = len < room ? len : room;
        s.append(z.bytes, z.dataStart(descs[at]) + (descs[at + 1] & 0xffff), n);
        room -= n;
      }
    }
  }
}
