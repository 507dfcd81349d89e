/**
 * Why the receive path dropped a packet. Wire views and representations
 * return one of these instead of throwing, and the receive path counts them
 * in a `Uint32Array(dropReasonCount)` indexed by the reason.
 *
 * @example
 * ```ts
 * import { Drop, dropReasonCount, dropReasonName } from "./drop.ts";
 * const counters = new Uint32Array(dropReasonCount);
 * counters[Drop.truncated]++;
 * dropReasonName(Drop.truncated); // "truncated"
 * ```
 *
 * @module
 */

/** Drop reasons; `none` (0) means "keep the packet". */
export const Drop = {
  /** Not dropped: the header is well formed. */
  none: 0,
  /** The buffer is shorter than the header, or than the length the header declares. */
  truncated: 1,
  /** Ethernet: an ethertype this stack neither handles nor hands to the kernel. */
  unknownEthertype: 2,
  /** ARP: not Ethernet/IPv4 ARP (hardware or protocol type or length). */
  arpUnsupported: 3,
  /** IPv4: the version field is not 4. */
  ipv4BadVersion: 4,
  /** IPv4: IHL below 5 (a header shorter than 20 bytes). */
  ipv4BadIhl: 5,
  /** IPv4: total length smaller than the header length. */
  ipv4BadTotalLength: 6,
  /** IPv4: the header checksum does not verify. */
  ipv4BadChecksum: 7,
  /** IPv4: a protocol this stack neither handles nor hands to the kernel. */
  unknownIpProtocol: 8,
  /** ICMP: the message checksum does not verify. */
  icmpBadChecksum: 9,
  /** UDP: the length field is below 8 or beyond the datagram. */
  udpBadLength: 10,
  /** UDP: the checksum does not verify. */
  udpBadChecksum: 11,
  /** TCP: the data offset is below 5 or points past the segment. */
  tcpBadDataOffset: 12,
  /** TCP: the checksum does not verify. */
  tcpBadChecksum: 13,
  /** TCP: an option's length is below 2, runs past the options, or is wrong for its kind. */
  tcpBadOptionLength: 14,
  /**
   * A chained frame (several buffers) that is not IPv4/TCP, whose headers do
   * not lie in its first buffer, or whose buffers do not add up to its IPv4
   * total length (or whose chain a burst cut short).
   */
  chainMalformed: 15,
  /** A chained frame that came with no checksum verdict from the device (it cannot be summed in place). */
  chainUnverified: 16,
} as const;

/** One drop reason, a small integer usable as an array index. */
export type Drop = typeof Drop[keyof typeof Drop];

/** Number of drop reasons: the length of a counter array indexed by {@link Drop}. */
export const dropReasonCount = 17;

const names: readonly string[] = (() => {
  const out: string[] = [];
  for (const [name, value] of Object.entries(Drop)) out[value] = name;
  return out;
})();

/** The name of a drop reason (`"truncated"`), for stats and logs. */
export function dropReasonName(reason: Drop): string {
  return names[reason] ?? `drop ${reason}`;
}
