/**
 * The IPv4 interface: the address, prefix, gateway and MAC a stack answers
 * for, and the next hop toward a destination.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { formatIpv4, formatMac, parseIpv4 } from "../wire/mod.ts";
import { Martian } from "./counters.ts";

/** An interface's settings, as numbers (see {@link parseInterface} for text). */
export interface InterfaceConfig {
  /** Our address (uint32). */
  address: number;
  /** Prefix length, 0..32. */
  prefixLen: number;
  /** Default gateway (uint32), or 0 for none. */
  gateway: number;
  /** Our MAC address (48-bit). */
  mac: number;
}

/** An IPv4 interface. */
export class IpInterface {
  address: number;
  prefixLen: number;
  gateway: number;
  readonly mac: number;
  #mask: number;
  /** The subnet's broadcast address, computed when the address changes (every received datagram asks). */
  #broadcast: number;

  constructor(config: InterfaceConfig) {
    this.address = 0;
    this.prefixLen = 0;
    this.gateway = 0;
    this.#mask = 0;
    this.#broadcast = 0;
    this.mac = config.mac;
    this.set(config.address, config.prefixLen, config.gateway);
  }

  /**
   * Changes address, prefix and gateway in place (the kernel's configuration
   * changed, see src/kernel/control.ts); throws as the constructor does and
   * then changes nothing.
   */
  set(address: number, prefixLen: number, gateway: number): void {
    if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > 32) {
      throw new ConfigError("prefixLen", `expected 0..32, got ${prefixLen}`);
    }
    const mask = prefixLen === 0 ? 0 : (0xffffffff << (32 - prefixLen)) >>> 0;
    const gw = gateway >>> 0;
    if (gw !== 0 && ((gw ^ address) & mask) !== 0) {
      throw new ConfigError("gateway", `${formatIpv4(gw)} is not on ${formatIpv4(address >>> 0)}/${prefixLen}`);
    }
    this.address = address >>> 0;
    this.prefixLen = prefixLen;
    this.gateway = gw;
    this.#mask = mask;
    this.#broadcast = (this.address | ~mask) >>> 0;
  }

  /** Whether `addr` is on this interface's subnet. */
  onLink(addr: number): boolean {
    return ((addr ^ this.address) & this.#mask) === 0;
  }

  /** Whether a datagram to `dst` is for this host: our address, or a broadcast of our subnet. */
  accepts(dst: number): boolean {
    return dst === this.address || dst === 0xffffffff || dst === this.#broadcast;
  }

  /**
   * Why `src` cannot be the source of a datagram we take (RFC 1122 3.2.1.3,
   * RFC 1812 5.3.7): a {@link Martian} reason, or -1 when it can.
   */
  martianSource(src: number): number {
    const top = src >>> 24;
    // A /31 or /32 has no broadcast address (RFC 3021): its other address is a host.
    if (src === 0xffffffff || (this.prefixLen < 31 && src === this.#broadcast)) {
      return Martian.broadcast;
    }
    if (top >= 224 && top < 240) return Martian.multicast;
    if (top >= 240) return Martian.classE;
    if (top === 127) return Martian.loopback;
    if (top === 0) return Martian.unspecified;
    if (src === this.address) return Martian.own;
    return -1;
  }

  /** The neighbour a datagram to `dst` goes to first; 0 when there is no route. */
  nextHop(dst: number): number {
    if (this.onLink(dst)) return dst;
    return this.gateway;
  }

  /** `198.18.0.1/24 via 198.18.0.254 (02:00:00:00:00:01)`. */
  toString(): string {
    const via = this.gateway === 0 ? "" : ` via ${formatIpv4(this.gateway)}`;
    return `${formatIpv4(this.address)}/${this.prefixLen}${via} (${formatMac(this.mac)})`;
  }
}

/**
 * Why `address`/`prefixLen` cannot be a host's own address (RFC 1122
 * 3.2.1.3, RFC 1812 5.3.7, RFC 3021), or undefined when it can.
 */
export function unusableAddress(address: number, prefixLen: number): string | undefined {
  const top = address >>> 24;
  if (prefixLen === 0) return "a prefix of 0 puts every address on the link";
  if (address === 0xffffffff) return "255.255.255.255 is the limited broadcast address";
  if (top === 0) return "0.0.0.0/8 is 'this network', not a host's address";
  if (top === 127) return "127.0.0.0/8 is loopback";
  if (top >= 224 && top < 240) return "224.0.0.0/4 is multicast";
  if (top >= 240) return "240.0.0.0/4 is reserved (class E)";
  if (prefixLen < 31) {
    const host = ~((0xffffffff << (32 - prefixLen)) >>> 0) >>> 0;
    if ((address & host) === 0) return `it is the network address of its /${prefixLen}`;
    if (((address & host) >>> 0) === host) return `it is the broadcast address of its /${prefixLen}`;
  }
  return undefined;
}

/** Builds an interface from `198.18.0.1/24`, an optional gateway and a MAC; refuses an address no host may use. */
export function parseInterface(cidr: string, mac: number, gateway?: string): IpInterface {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(cidr);
  if (m === null) throw new ConfigError("address", `'${cidr}' is not ADDRESS/PREFIX (e.g. 198.18.0.1/24)`);
  const address = parseIpv4(m[1]);
  const why = Number(m[2]) <= 32 ? unusableAddress(address, Number(m[2])) : undefined;
  if (why !== undefined) throw new ConfigError("address", `'${cidr}' cannot be this host's address: ${why}`);
  return new IpInterface({
    address,
    prefixLen: Number(m[2]),
    gateway: gateway === undefined ? 0 : parseIpv4(gateway),
    mac,
  });
}
