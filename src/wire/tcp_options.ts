/**
 * TCP options: a cursor over the options area, a parsed set of the options
 * this stack uses, and their emission. MSS (RFC 9293 3.7.1), window scale and
 * timestamps (RFC 7323), SACK-permitted and SACK blocks (RFC 2018). NOP and
 * EOL are honoured; unknown options are skipped by their length.
 *
 * @example
 * ```ts
 * import { TcpOptions } from "./tcp_options.ts";
 * const options = new TcpOptions();
 * options.mss = 1460;
 * options.windowScale = 7;
 * const bytes = new Uint8Array(options.emitLen());
 * options.emit(bytes, 0);
 * const back = new TcpOptions();
 * back.parse(bytes, 0, bytes.length); // Drop.none; back.mss === 1460
 * ```
 *
 * @module
 */
import { Drop } from "./drop.ts";
import { needRoom, noBytes, rd16, rd32, wr16, wr32 } from "./_bytes.ts";

/** Option kinds (IANA "TCP Option Kind Numbers"). */
export const TcpOptionKind = {
  /** End of option list. */
  eol: 0,
  /** No-operation, used for alignment. */
  nop: 1,
  /** Maximum segment size (RFC 9293 3.2). */
  mss: 2,
  /** Window scale (RFC 7323 2). */
  windowScale: 3,
  /** SACK permitted (RFC 2018 2). */
  sackPermitted: 4,
  /** SACK blocks (RFC 2018 3). */
  sack: 5,
  /** Timestamps (RFC 7323 3). */
  timestamps: 8,
} as const;

/** Most bytes of options a TCP header holds (data offset 15 words, less 20 bytes). */
export const tcpOptionsLenMax = 40;

/** Most SACK blocks one option carries (RFC 2018 3: 2 + 8n bytes within 40). */
export const sackBlocksMax = 4;

// Lengths of the options (kind and length bytes included), RFC 9293, 7323, 2018.
const mssLen = 4;
const windowScaleLen = 3;
const sackPermittedLen = 2;
const timestampsLen = 10;

/**
 * Walks the options in `bytes[start..end)` one by one without allocating:
 * `while (cursor.next()) { switch (cursor.kind) ... }`, then look at
 * {@link error}. Yields NOP and unknown kinds too; stops at EOL.
 */
export class TcpOptionCursor {
  /** Kind of the current option. */
  kind = -1;
  /** Offset of the current option's data (after its kind and length bytes) in the buffer. */
  dataOffset = 0;
  /** Bytes of the current option's data (its length less 2; 0 for NOP). */
  dataLen = 0;
  /** Why the walk stopped early: {@link Drop.tcpBadOptionLength}, or {@link Drop.none}. */
  error: Drop = Drop.none;
  #bytes: Uint8Array = noBytes;
  #pos = 0;
  #end = 0;

  /** Starts a walk over `bytes[start..end)`. */
  reset(bytes: Uint8Array, start: number, end: number): this {
    this.#bytes = bytes;
    this.#pos = start;
    this.#end = end;
    this.kind = -1;
    this.dataOffset = start;
    this.dataLen = 0;
    this.error = Drop.none;
    return this;
  }

  /** Moves to the next option; false at the end, at EOL, or on a bad length (see {@link error}). */
  next(): boolean {
    const b = this.#bytes;
    const pos = this.#pos;
    const end = this.#end;
    if (pos >= end) return false;
    const kind = b[pos];
    if (kind === TcpOptionKind.eol) {
      this.#pos = end;
      return false;
    }
    this.kind = kind;
    if (kind === TcpOptionKind.nop) {
      this.dataOffset = pos + 1;
      this.dataLen = 0;
      this.#pos = pos + 1;
      return true;
    }
    // RFC 9293 3.1: every other option has a length byte counting kind and length.
    const len = pos + 1 < end ? b[pos + 1] : 0;
    if (len < 2 || pos + len > end) {
      this.error = Drop.tcpBadOptionLength;
      this.#pos = end;
      return false;
    }
    this.dataOffset = pos + 2;
    this.dataLen = len - 2;
    this.#pos = pos + len;
    return true;
  }
}

/** The options this stack reads and writes, as values; absent ones are -1 or false. */
export class TcpOptions {
  /** Maximum segment size in bytes; -1: absent. */
  mss = -1;
  /**
   * Window scale shift count as received; -1: absent. Values above 14 are kept
   * as they came; RFC 7323 2.3 has the receiver use 14 instead.
   */
  windowScale = -1;
  /** SACK-permitted option present. */
  sackPermitted = false;
  /** Timestamps option present. */
  timestamps = false;
  /** TSval, when {@link timestamps}. */
  tsVal = 0;
  /** TSecr, when {@link timestamps}. */
  tsEcr = 0;
  /** Number of SACK blocks in {@link sackBlocks} (0..4). */
  sackCount = 0;
  /** SACK blocks as pairs: left edge at 2i, right edge at 2i + 1. */
  readonly sackBlocks: Uint32Array = new Uint32Array(2 * sackBlocksMax);
  #cursor = new TcpOptionCursor();

  /** Marks every option absent. */
  clear(): void {
    this.mss = -1;
    this.windowScale = -1;
    this.sackPermitted = false;
    this.timestamps = false;
    this.tsVal = 0;
    this.tsEcr = 0;
    // Blocks past sackCount are kept zero, so only a list that had blocks needs zeroing: most
    // segments carry none, and a fill is a native call on every segment in and out.
    if (this.sackCount !== 0) {
      this.sackCount = 0;
      this.sackBlocks.fill(0);
    }
  }

  /** Copies every option from `other`. */
  copyFrom(other: TcpOptions): void {
    this.mss = other.mss;
    this.windowScale = other.windowScale;
    this.sackPermitted = other.sackPermitted;
    this.timestamps = other.timestamps;
    this.tsVal = other.tsVal;
    this.tsEcr = other.tsEcr;
    this.sackCount = other.sackCount;
    this.sackBlocks.set(other.sackBlocks);
  }

  /** Appends a SACK block `[left, right)`; false when four are already held. */
  addSackBlock(left: number, right: number): boolean {
    if (this.sackCount >= sackBlocksMax) return false;
    this.sackBlocks[2 * this.sackCount] = left;
    this.sackBlocks[2 * this.sackCount + 1] = right;
    this.sackCount++;
    return true;
  }

  /**
   * Reads the options in `bytes[start..end)` into this set (options not there
   * become absent): {@link Drop.none}, or {@link Drop.tcpBadOptionLength} when
   * a length runs short, past the end, or is wrong for its kind.
   */
  parse(bytes: Uint8Array, start: number, end: number): Drop {
    this.clear();
    // The layout nearly every segment after the handshake carries (Linux's, and ours): NOP NOP
    // and timestamps, read without the walk.
    if (
      end - start === 12 && bytes[start] === TcpOptionKind.nop && bytes[start + 1] === TcpOptionKind.nop &&
      bytes[start + 2] === TcpOptionKind.timestamps && bytes[start + 3] === timestampsLen
    ) {
      this.timestamps = true;
      this.tsVal = rd32(bytes, start + 4);
      this.tsEcr = rd32(bytes, start + 8);
      return Drop.none;
    }
    const c = this.#cursor.reset(bytes, start, end);
    while (c.next()) {
      const at = c.dataOffset;
      const len = c.dataLen + 2;
      switch (c.kind) {
        case TcpOptionKind.nop:
          break;
        case TcpOptionKind.mss:
          if (len !== mssLen) return Drop.tcpBadOptionLength;
          this.mss = rd16(bytes, at);
          break;
        case TcpOptionKind.windowScale:
          if (len !== windowScaleLen) return Drop.tcpBadOptionLength;
          this.windowScale = bytes[at];
          break;
        case TcpOptionKind.sackPermitted:
          if (len !== sackPermittedLen) return Drop.tcpBadOptionLength;
          this.sackPermitted = true;
          break;
        case TcpOptionKind.timestamps:
          if (len !== timestampsLen) return Drop.tcpBadOptionLength;
          this.timestamps = true;
          this.tsVal = rd32(bytes, at);
          this.tsEcr = rd32(bytes, at + 4);
          break;
        case TcpOptionKind.sack: {
          const n = c.dataLen >>> 3;
          if ((c.dataLen & 7) !== 0 || n === 0 || n > sackBlocksMax) return Drop.tcpBadOptionLength;
          for (let i = 0; i < n; i++) {
            this.sackBlocks[2 * i] = rd32(bytes, at + 8 * i);
            this.sackBlocks[2 * i + 1] = rd32(bytes, at + 8 * i + 4);
          }
          this.sackCount = n;
          break;
        }
        default:
          // Unknown kinds are skipped by their length (RFC 9293 3.2).
          break;
      }
    }
    return c.error;
  }

  /**
   * SACK blocks that {@link emit} writes: all of {@link sackCount} that fit in
   * the 40 bytes left by the other options (three beside timestamps).
   */
  sackCountEmitted(): number {
    if (this.sackCount === 0) return 0;
    const room = tcpOptionsLenMax - lenWithoutSack(this) - 4;
    const fit = room < 8 ? 0 : room >>> 3;
    return this.sackCount < fit ? this.sackCount : fit;
  }

  /** Bytes {@link emit} writes: a multiple of 4, at most 40. */
  emitLen(): number {
    const base = lenWithoutSack(this);
    if (this.sackCount === 0) return base; // the usual segment: no call for the blocks
    const n = this.sackCountEmitted();
    return base + (n === 0 ? 0 : 4 + 8 * n);
  }

  /**
   * Writes the options at `bytes[at..)`, each aligned on 4 bytes with NOPs in
   * the layout Linux uses (MSS, SACK-permitted with timestamps, NOP and window
   * scale, NOP NOP SACK); returns the bytes written, {@link emitLen}. Throws
   * a RangeError if `bytes` has no room for them.
   */
  emit(bytes: Uint8Array, at: number): number {
    const n = this.sackCount === 0 ? 0 : this.sackCountEmitted();
    needRoom("TCP options", bytes, at, bytes.length - at, lenWithoutSack(this) + (n === 0 ? 0 : 4 + 8 * n));
    let p = at;
    if (this.mss >= 0) {
      bytes[p] = TcpOptionKind.mss;
      bytes[p + 1] = mssLen;
      wr16(bytes, p + 2, this.mss);
      p += 4;
    }
    if (this.timestamps) {
      if (this.sackPermitted) {
        bytes[p] = TcpOptionKind.sackPermitted;
        bytes[p + 1] = sackPermittedLen;
      } else {
        bytes[p] = TcpOptionKind.nop;
        bytes[p + 1] = TcpOptionKind.nop;
      }
      bytes[p + 2] = TcpOptionKind.timestamps;
      bytes[p + 3] = timestampsLen;
      wr32(bytes, p + 4, this.tsVal);
      wr32(bytes, p + 8, this.tsEcr);
      p += 12;
    } else if (this.sackPermitted) {
      bytes[p] = TcpOptionKind.nop;
      bytes[p + 1] = TcpOptionKind.nop;
      bytes[p + 2] = TcpOptionKind.sackPermitted;
      bytes[p + 3] = sackPermittedLen;
      p += 4;
    }
    if (this.windowScale >= 0) {
      bytes[p] = TcpOptionKind.nop;
      bytes[p + 1] = TcpOptionKind.windowScale;
      bytes[p + 2] = windowScaleLen;
      bytes[p + 3] = this.windowScale;
      p += 4;
    }
    if (n > 0) {
      bytes[p] = TcpOptionKind.nop;
      bytes[p + 1] = TcpOptionKind.nop;
      bytes[p + 2] = TcpOptionKind.sack;
      bytes[p + 3] = 2 + 8 * n;
      p += 4;
      for (let i = 0; i < n; i++) {
        wr32(bytes, p, this.sackBlocks[2 * i]);
        wr32(bytes, p + 4, this.sackBlocks[2 * i + 1]);
        p += 8;
      }
    }
    return p - at;
  }
}

// Bytes of the options but the SACK blocks (a function, not a #private method: it inlines).
function lenWithoutSack(o: TcpOptions): number {
  return (o.mss >= 0 ? 4 : 0) + (o.timestamps ? 12 : o.sackPermitted ? 4 : 0) + (o.windowScale >= 0 ? 4 : 0);
}
