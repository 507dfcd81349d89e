/**
 * IPv4 (RFC 791): a view over the header in place, and dotted-quad helpers.
 * Addresses are uint32 numbers (`0xc0a80001` for 192.168.0.1): reading one
 * allocates nothing and two compare with `===`. Options are skipped (their
 * length is honoured, their content not read).
 *
 * @example
 * ```ts
 * import { Ipv4Packet, formatIpv4 } from "./ipv4.ts";
 * import { Drop } from "./drop.ts";
 * const ip = new Ipv4Packet(); // one per worker, re-pointed per packet
 * const bytes = new Uint8Array(40);
 * if (ip.wrap(bytes, 0, bytes.length) === Drop.none && ip.verifyChecksum()) {
 *   formatIpv4(ip.src);
 * }
 * ```
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { internetChecksum, onesSum } from "./checksum.ts";
import { Drop } from "./drop.ts";
import { WireView } from "./_view.ts";
import { inBounds, rd16, rd32, wr16, wr32 } from "./_bytes.ts";

/** IP protocol numbers this stack looks at (IANA "Protocol Numbers"). */
export const IpProtocol = {
  /** Internet Control Message Protocol. */
  icmp: 1,
  /** Transmission Control Protocol. */
  tcp: 6,
  /** User Datagram Protocol. */
  udp: 17,
} as const;

/** Bytes of an IPv4 header without options. */
export const ipv4HeaderLen = 20;

/** Formats a uint32 IPv4 address as a dotted quad (`192.168.0.1`). */
export function formatIpv4(addr: number): string {
  return `${addr >>> 24}.${(addr >>> 16) & 0xff}.${(addr >>> 8) & 0xff}.${addr & 0xff}`;
}

const quadPattern = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** Parses a dotted quad into a uint32 address; throws {@link ConfigError} if it is not one. */
export function parseIpv4(text: string): number {
  const m = quadPattern.exec(text);
  let addr = 0;
  let parts = 0;
  // Leading zeros are refused: inet_aton reads them as octal.
  while (m !== null && parts < 4) {
    const part = m[parts + 1];
    if (Number(part) > 255 || (part.length > 1 && part[0] === "0")) break;
    addr = addr * 256 + Number(part);
    parts++;
  }
  if (parts === 4) return addr;
  throw new ConfigError("address", `'${text}' is not an IPv4 address (expected a dotted quad: 192.0.2.1)`);
}

/** A view over an IPv4 header in place; reusable, see {@link Ipv4Packet.wrap}. */
export class Ipv4Packet extends WireView {
  // attach and wrap again here, not only in WireView: one copy per class keeps the field stores
  // and the call to check() monomorphic on the per-frame path (one shared copy saw every view class).
  /** Points the view without checks (for building a header). */
  override attach(bytes: Uint8Array, offset: number, length: number): this {
    this.bytes = bytes;
    this.offset = offset;
    this.length = length;
    return this;
  }

  /** Points the view at a received header and checks it: `Drop.none` if every accessor is safe. */
  override wrap(bytes: Uint8Array, offset: number, length: number): Drop {
    this.bytes = bytes;
    this.offset = offset;
    this.length = length;
    return this.check();
  }

  /**
   * Validates version, IHL and total length against the buffer, once; the
   * checksum is left to {@link verifyChecksum} (a NIC may have checked it).
   */
  check(): Drop {
    if (!inBounds(this.bytes, this.offset, this.length) || this.length < ipv4HeaderLen) return Drop.truncated;
    if (this.version !== 4) return Drop.ipv4BadVersion;
    const headerLen = this.headerLen;
    if (headerLen < ipv4HeaderLen) return Drop.ipv4BadIhl;
    if (headerLen > this.length) return Drop.truncated;
    const totalLen = this.totalLen;
    if (totalLen < headerLen) return Drop.ipv4BadTotalLength;
    if (totalLen > this.length) return Drop.truncated;
    return Drop.none;
  }

  /** Version (4). */
  get version(): number {
    return this.bytes[this.offset] >>> 4;
  }
  set version(value: number) {
    const o = this.offset;
    this.bytes[o] = (this.bytes[o] & 0x0f) | (value << 4);
  }

  /** Header length in bytes (IHL times 4); the setter takes a multiple of 4. */
  get headerLen(): number {
    return (this.bytes[this.offset] & 0x0f) << 2;
  }
  set headerLen(bytes: number) {
    const o = this.offset;
    this.bytes[o] = (this.bytes[o] & 0xf0) | ((bytes >>> 2) & 0x0f);
  }

  /** Differentiated Services codepoint (RFC 2474). */
  get dscp(): number {
    return this.bytes[this.offset + 1] >>> 2;
  }
  set dscp(value: number) {
    const o = this.offset + 1;
    this.bytes[o] = (this.bytes[o] & 0x03) | (value << 2);
  }

  /** Explicit Congestion Notification field (RFC 3168). */
  get ecn(): number {
    return this.bytes[this.offset + 1] & 0x03;
  }
  set ecn(value: number) {
    const o = this.offset + 1;
    this.bytes[o] = (this.bytes[o] & 0xfc) | (value & 0x03);
  }

  /** Total length of the datagram in bytes, header included. */
  get totalLen(): number {
    return rd16(this.bytes, this.offset + 2);
  }
  set totalLen(value: number) {
    wr16(this.bytes, this.offset + 2, value);
  }

  /** Identification. */
  get ident(): number {
    return rd16(this.bytes, this.offset + 4);
  }
  set ident(value: number) {
    wr16(this.bytes, this.offset + 4, value);
  }

  /** The DF (don't fragment) flag. */
  get dontFragment(): boolean {
    return (this.bytes[this.offset + 6] & 0x40) !== 0;
  }
  set dontFragment(on: boolean) {
    const o = this.offset + 6;
    this.bytes[o] = on ? this.bytes[o] | 0x40 : this.bytes[o] & ~0x40;
  }

  /** The MF (more fragments) flag. */
  get moreFragments(): boolean {
    return (this.bytes[this.offset + 6] & 0x20) !== 0;
  }
  set moreFragments(on: boolean) {
    const o = this.offset + 6;
    this.bytes[o] = on ? this.bytes[o] | 0x20 : this.bytes[o] & ~0x20;
  }

  /** Fragment offset in bytes (the field counts 8-byte units); the setter takes a multiple of 8. */
  get fragmentOffsetBytes(): number {
    return (rd16(this.bytes, this.offset + 6) & 0x1fff) << 3;
  }
  set fragmentOffsetBytes(bytes: number) {
    const o = this.offset + 6;
    wr16(this.bytes, o, (rd16(this.bytes, o) & 0xe000) | ((bytes >>> 3) & 0x1fff));
  }

  /** Whether this datagram is a fragment (MF set, or a non-zero offset). */
  get isFragment(): boolean {
    return (rd16(this.bytes, this.offset + 6) & 0x3fff) !== 0;
  }

  /** Time to live. */
  get ttl(): number {
    return this.bytes[this.offset + 8];
  }
  set ttl(value: number) {
    this.bytes[this.offset + 8] = value;
  }

  /** Protocol of the payload, see {@link IpProtocol}. */
  get protocol(): number {
    return this.bytes[this.offset + 9];
  }
  set protocol(value: number) {
    this.bytes[this.offset + 9] = value;
  }

  /** Header checksum field. */
  get checksum(): number {
    return rd16(this.bytes, this.offset + 10);
  }
  set checksum(value: number) {
    wr16(this.bytes, this.offset + 10, value);
  }

  /** Source address (uint32). */
  get src(): number {
    return rd32(this.bytes, this.offset + 12);
  }
  set src(addr: number) {
    wr32(this.bytes, this.offset + 12, addr);
  }

  /** Destination address (uint32). */
  get dst(): number {
    return rd32(this.bytes, this.offset + 16);
  }
  set dst(addr: number) {
    wr32(this.bytes, this.offset + 16, addr);
  }

  /** Offset of the payload in {@link bytes}. */
  get payloadOffset(): number {
    return this.offset + this.headerLen;
  }

  /** Bytes of payload, from the total length (link padding excluded). */
  get payloadLen(): number {
    return this.totalLen - this.headerLen;
  }

  /** Computes the header checksum and writes it. */
  fillChecksum(): void {
    this.checksum = 0;
    this.checksum = internetChecksum(this.bytes, this.offset, this.offset + this.headerLen);
  }

  /** Whether the header checksum verifies. */
  verifyChecksum(): boolean {
    return onesSum(this.bytes, this.offset, this.offset + this.headerLen) === 0xffff;
  }
}
