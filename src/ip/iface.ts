/**
 * The IPv4 interface: the address, prefix, gateway and MAC a stack answers
 * for, and the next hop toward a destination.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { formatIpv4, formatMac, parseIpv4 } from "../wire/mod.ts";

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

  constructor(config: InterfaceConfig) {
    if (!Number.isInteger(config.prefixLen) || config.prefixLen < 0 || config.prefixLen > 32) {
      throw new ConfigError("prefixLen", `expected 0..32, got ${config.prefixLen}`);
    }
    this.address = config.address >>> 0;
    this.prefixLen = config.prefixLen;
    this.gateway = config.gateway >>> 0;
    this.mac = config.mac;
    this.#mask = config.prefixLen === 0 ? 0 : (0xffffffff << (32 - config.prefixLen)) >>> 0;
    if (this.gateway !== 0 && !this.onLink(this.gateway)) {
      throw new ConfigError("gateway", `${formatIpv4(this.gateway)} is not on ${this.toString()}`);
    }
  }

  /** Whether `addr` is on this interface's subnet. */
  onLink(addr: number): boolean {
    return ((addr ^ this.address) & this.#mask) === 0;
  }

  /** Whether a datagram to `dst` is for this host: our address, or a broadcast of our subnet. */
  accepts(dst: number): boolean {
    return dst === this.address || dst === 0xffffffff || dst === ((this.address | ~this.#mask) >>> 0);
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

/** Builds an interface from `198.18.0.1/24`, an optional gateway and a MAC. */
export function parseInterface(cidr: string, mac: number, gateway?: string): IpInterface {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(cidr);
  if (m === null) throw new ConfigError("address", `'${cidr}' is not ADDRESS/PREFIX (e.g. 198.18.0.1/24)`);
  return new IpInterface({
    address: parseIpv4(m[1]),
    prefixLen: Number(m[2]),
    gateway: gateway === undefined ? 0 : parseIpv4(gateway),
    mac,
  });
}
