/**
 * A classic pcap file writer (the libpcap format that tcpdump, tshark and
 * Wireshark read): a 24-byte global header, then per frame a 16-byte record
 * header and the frame's bytes. Records are gathered in one preallocated
 * buffer and written with `writeSync` when it fills, on {@link PcapWriter.flush}
 * and on {@link PcapWriter.close}; appending a frame allocates nothing.
 *
 * The file is written in little-endian order; readers tell the byte order and
 * the timestamp resolution (microseconds, or nanoseconds with magic
 * 0xa1b23c4d) from the magic number.
 *
 * @example
 * ```ts
 * import { PcapWriter } from "./writer.ts";
 * const w = new PcapWriter({ path: "/tmp/x.pcap" });
 * const frame = new Uint8Array(60);
 * w.setTime(Date.UTC(2024, 0, 1));
 * w.append(frame, new DataView(frame.buffer), 0, frame.length);
 * w.close();
 * ```
 *
 * @module
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { ConfigError } from "../../errors.ts";
import { copyBytes } from "../../util/bytes.ts";

/** Magic number of a pcap file with microsecond timestamps. */
export const pcapMagicMicro = 0xa1b2c3d4;
/** Magic number of a pcap file with nanosecond timestamps. */
export const pcapMagicNano = 0xa1b23c4d;
/** LINKTYPE_ETHERNET: frames start with an Ethernet II header. */
export const linktypeEthernet = 1;
/** Bytes of the global header. */
export const pcapHeaderLen = 24;
/** Bytes of a record header. */
export const pcapRecordHeaderLen = 16;

/** Options of a {@link PcapWriter}. */
export interface PcapWriterOptions {
  /** File to create (an existing one is truncated). */
  path: string;
  /** Nanosecond timestamps (magic 0xa1b23c4d) instead of microseconds; default false. */
  nanosecond?: boolean;
  /** Bytes kept of each frame at most; default 65535. */
  snaplen?: number;
  /** Bytes gathered before a write; default 1 MiB. */
  bufferBytes?: number;
}

/** Writes a pcap file; see the module documentation. */
export class PcapWriter {
  /** The file written. */
  readonly path: string;
  /** Whether timestamps are in nanoseconds. */
  readonly nanosecond: boolean;
  /** Bytes kept of each frame at most. */
  readonly snaplen: number;
  /** Records appended so far. */
  records = 0;
  /** Bytes handed to the file so far (flushed). */
  bytesWritten = 0;
  private _fd: number;
  private _buf: Uint8Array;
  private _view: DataView;
  private _pos = 0;
  private _sec = 0;
  private _frac = 0;

  /** Creates the file and gathers its global header. */
  constructor(options: PcapWriterOptions) {
    const snaplen = options.snaplen ?? 65535;
    if (!Number.isInteger(snaplen) || snaplen < 1 || snaplen > 0x3fff_ffff) {
      throw new ConfigError("snaplen", `expected an integer 1..${0x3fff_ffff}, got ${snaplen}`);
    }
    const bufferBytes = options.bufferBytes ?? 1 << 20;
    if (!Number.isInteger(bufferBytes) || bufferBytes < 4096) {
      throw new ConfigError("bufferBytes", `expected an integer >= 4096, got ${bufferBytes}`);
    }
    this.path = options.path;
    this.nanosecond = options.nanosecond ?? false;
    this.snaplen = snaplen;
    this._buf = new Uint8Array(bufferBytes);
    this._view = new DataView(this._buf.buffer);
    this._fd = openSync(options.path, "w");
    const v = this._view;
    v.setUint32(0, this.nanosecond ? pcapMagicNano : pcapMagicMicro, true);
    v.setUint16(4, 2, true); // version 2.4
    v.setUint16(6, 4, true);
    v.setInt32(8, 0, true); // thiszone: timestamps are UTC
    v.setUint32(12, 0, true); // sigfigs
    v.setUint32(16, snaplen, true);
    v.setUint32(20, linktypeEthernet, true);
    this._pos = pcapHeaderLen;
  }

  /**
   * Sets the timestamp of the records appended next: `baseSec` seconds plus
   * `ms` milliseconds since the Unix epoch. Keeping a large base apart from
   * a small `ms` keeps nanoseconds exact that one float of ms since 1970
   * (about 0.2 us apart today) would lose.
   */
  setTime(ms: number, baseSec = 0): void {
    const unit = this.nanosecond ? 1e9 : 1e6;
    const whole = Math.floor(ms / 1000);
    let sec = baseSec + whole;
    let frac = Math.round((ms - whole * 1000) * (unit / 1000));
    if (frac >= unit) {
      sec++;
      frac -= unit;
    }
    if (!(sec >= 0)) {
      sec = 0;
      frac = 0;
    }
    this._sec = sec;
    this._frac = frac;
  }

  /** Bytes that the record of a `len`-byte frame takes. */
  recordLen(len: number): number {
    return pcapRecordHeaderLen + (len < this.snaplen ? len : this.snaplen);
  }

  /** Makes room for `bytes` more without a write in between (flushing first if needed). */
  reserve(bytes: number): void {
    if (this._fd < 0) throw new Error(`pcap ${this.path}: written after close`);
    if (this._pos + bytes <= this._buf.length) return;
    this.flush();
    if (bytes > this._buf.length) {
      let size = this._buf.length;
      while (size < bytes) size *= 2;
      this._buf = new Uint8Array(size);
      this._view = new DataView(this._buf.buffer);
    }
  }

  /** Bytes gathered and not yet written. */
  get buffered(): number {
    return this._pos;
  }

  /** Appends the `len`-byte frame at `src[off..)` (`srcView` a DataView over `src`'s buffer from the same byte). */
  append(src: Uint8Array, srcView: DataView, off: number, len: number): void {
    const incl = len < this.snaplen ? len : this.snaplen;
    this.reserve(pcapRecordHeaderLen + incl);
    const v = this._view;
    const p = this._pos;
    v.setUint32(p, this._sec, true);
    v.setUint32(p + 4, this._frac, true);
    v.setUint32(p + 8, incl, true);
    v.setUint32(p + 12, len, true);
    copyBytes(this._buf, v, p + pcapRecordHeaderLen, src, srcView, off, incl);
    this._pos = p + pcapRecordHeaderLen + incl;
    this.records++;
  }

  /** Where the next record goes in the gathered bytes; with {@link rewind}, takes back records not yet written. */
  get mark(): number {
    return this._pos;
  }

  /** Drops the `records` records gathered since `mark` (which must not be before the last flush). */
  rewind(mark: number, records: number): void {
    this._pos = mark;
    this.records -= records;
  }

  /** Writes what is gathered to the file. */
  flush(): void {
    let off = 0;
    while (off < this._pos) off += writeSync(this._fd, this._buf, off, this._pos - off);
    this.bytesWritten += this._pos;
    this._pos = 0;
  }

  /** Writes what is gathered and closes the file; later calls do nothing. */
  close(): void {
    if (this._fd < 0) return;
    try {
      this.flush();
    } finally {
      closeSync(this._fd);
      this._fd = -1;
    }
  }
}
