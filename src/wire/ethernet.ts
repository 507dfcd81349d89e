/**
 * Ethernet II frames (IEEE 802.3 with an EtherType): a view over the 14-byte
 * header, and MAC address helpers. MAC addresses are 48-bit numbers
 * (`0x0200_0000_0001`), so that reading one allocates nothing and two compare
 * with `===`. 802.1Q tags are not parsed: a tagged frame shows ethertype 0x8100.
 *
 * @example
 * ```ts
 * import { EthernetFrame, EtherType, formatMac } from "./ethernet.ts";
 * import { Drop } from "./drop.ts";
 * const frame = new EthernetFrame();
 * const bytes = new Uint8Array(60);
 * if (frame.wrap(bytes, 0, bytes.length) === Drop.none && frame.ethertype === EtherType.ipv4) {
 *   formatMac(frame.src);
 * }
 * ```
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { Drop } from "./drop.ts";
import { WireView } from "./_view.ts";
import { inBounds, rd16, rd48, wr16, wr48 } from "./_bytes.ts";

/** EtherType values this stack looks at. */
export const EtherType = {
  /** Internet Protocol version 4. */
  ipv4: 0x0800,
  /** Address Resolution Protocol. */
  arp: 0x0806,
  /** An IEEE 802.1Q VLAN tag follows. */
  vlan: 0x8100,
  /** Internet Protocol version 6. */
  ipv6: 0x86dd,
} as const;

/** Bytes of an Ethernet II header. */
export const ethernetHeaderLen = 14;

/** The broadcast MAC address ff:ff:ff:ff:ff:ff. */
export const macBroadcast = 0xffff_ffff_ffff;

/** Whether a MAC address is multicast (the I/G bit of its first byte; broadcast included). */
export function isMulticastMac(mac: number): boolean {
  return (Math.floor(mac / 0x100_0000_0000) & 1) === 1;
}

/** Reads the MAC address at `bytes[offset..offset + 6)` as a 48-bit number. */
export function readMac(bytes: Uint8Array, offset: number): number {
  return rd48(bytes, offset);
}

/** Writes a 48-bit MAC address at `bytes[offset..offset + 6)`. */
export function writeMac(bytes: Uint8Array, offset: number, mac: number): void {
  wr48(bytes, offset, mac);
}

/** Formats a MAC address as `02:00:00:00:00:01`. */
export function formatMac(mac: number): string {
  let s = "";
  for (let shift = 40; shift >= 0; shift -= 8) {
    const byte = Math.floor(mac / 2 ** shift) & 0xff;
    s += (shift === 40 ? "" : ":") + byte.toString(16).padStart(2, "0");
  }
  return s;
}

const macPattern =
  /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i;

/** Parses `02:00:00:00:00:01` (or with `-`) into a 48-bit number; throws {@link ConfigError} otherwise. */
export function parseMac(text: string): number {
  const m = macPattern.exec(text);
  if (m === null) {
    throw new ConfigError(
      "mac",
      `'${text}' is not a MAC address (expected six hex bytes: 02:00:00:00:00:01)`,
    );
  }
  let mac = 0;
  for (let i = 1; i <= 6; i++) mac = mac * 256 + parseInt(m[i], 16);
  return mac;
}

/** A view over an Ethernet II header in place; reusable, see {@link EthernetFrame.wrap}. */
export class EthernetFrame extends WireView {
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

  /** Validates the lengths once; after {@link Drop.none} no accessor reads past the frame. */
  check(): Drop {
    if (!inBounds(this.bytes, this.offset, this.length) || this.length < ethernetHeaderLen) {
      return Drop.truncated;
    }
    return Drop.none;
  }

  /** Destination MAC address. */
  get dst(): number {
    return rd48(this.bytes, this.offset);
  }
  set dst(mac: number) {
    wr48(this.bytes, this.offset, mac);
  }

  /** Source MAC address. */
  get src(): number {
    return rd48(this.bytes, this.offset + 6);
  }
  set src(mac: number) {
    wr48(this.bytes, this.offset + 6, mac);
  }

  /** EtherType of the payload. */
  get ethertype(): number {
    return rd16(this.bytes, this.offset + 12);
  }
  set ethertype(value: number) {
    wr16(this.bytes, this.offset + 12, value);
  }

  /** Copies the destination MAC's six bytes into `out[at..at + 6)`. */
  copyDst(out: Uint8Array, at = 0): void {
    for (let i = 0; i < 6; i++) out[at + i] = this.bytes[this.offset + i];
  }

  /** Copies the source MAC's six bytes into `out[at..at + 6)`. */
  copySrc(out: Uint8Array, at = 0): void {
    for (let i = 0; i < 6; i++) out[at + i] = this.bytes[this.offset + 6 + i];
  }

  /** Offset of the payload in {@link bytes}. */
  get payloadOffset(): number {
    return this.offset + ethernetHeaderLen;
  }

  /** Bytes of payload (padding included: the IP header says how much is real). */
  get payloadLen(): number {
    return this.length - ethernetHeaderLen;
  }
}
