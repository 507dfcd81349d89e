/**
 * How many times each payload byte is touched per side of a configuration:
 * copies plus checksum passes, derived from the configuration (its device,
 * its `checksums` setting, and the kernel's offloads on its link), so that
 * readers see why the figures are what they are. Reading bytes in place
 * (luna-ts's zero-copy views, a sink that drops what it gets) is no touch.
 *
 * The path of a payload byte, per configuration:
 * - luna-ts over net_memif (luna-memif-*, the jumbo, loopback-MTU and
 *   scaling ones too), luna-ts on both sides. Sending: the application's
 *   write copies into zone buffers; TCP cuts large segments by software GSO,
 *   whose segments point into those buffers (no copy), or at the loopback
 *   MTU (luna-memif-mtu64k-*) sends a segment of up to 64 KiB whole, a chain
 *   of those buffers; the memif driver copies each frame
 *   into the shared ring (copy mode, no hugepages). Receiving: the memif
 *   driver copies from the ring into a zone buffer; the application reads
 *   it where it lies. Checksums: none on memif ("auto"); with
 *   `checksums: "always"` (luna-memif-csum-*) the shim computes them for
 *   each frame sent from the sums the write's copy took (no pass of its
 *   own) and verifies them over each frame received.
 * - luna-ts over net_memif in zero-copy (luna-memif-zc-*): the bench's
 *   server is memif's client with `zero-copy` on hugepages, so its pool's
 *   buffers are the ring's. Sending: the application's write into zone
 *   buffers, and nothing more (the frames leave where they lie, GSO's too);
 *   receiving: none (the memif server copied each frame into one of our
 *   buffers, which is its send's copy). The peer (the bench's client, the
 *   memif server in copy mode): sending, the write and its driver's copy
 *   into the client's buffers; receiving, its driver's copy out of them.
 * - luna-ts on net_af_packet (luna-afpacket-*), the kernel's TCP (the C
 *   client) as the peer, over a veth whose offloads are off. luna-ts
 *   sending: the write's copy, the shim's checksum, the af_packet driver's
 *   copy into the kernel's transmit ring (the kernel sends from the ring's
 *   pages); receiving: the kernel's copy into the receive ring, the
 *   driver's copy out of it, the shim's checksum check. The peer's kernel
 *   copies between user memory and its socket buffers once per side and,
 *   with the veth's checksum offload off, computes or checks each
 *   checksum in software.
 * - luna-ts on its packet: device (luna-packet-*), the kernel's TCP as the
 *   peer, over a veth whose offloads are on: sending, the write's copy and
 *   the kernel's copy of the chain's links into its skb (sendmmsg, one per
 *   64 KB packet); receiving, the kernel's copy of its skb into the receive
 *   chain's buffers (recvmmsg); no checksum computed on either side (the
 *   virtio_net_hdr leaves them to the veth's offload).
 * - the kernel's TCP (bun-, deno-, node-, c-, c-busy-kernel-lo/-veth): one
 *   copy per side, between user memory and the socket buffers; loopback and
 *   the veth (offloads on) carry checksums as offloaded, so none is
 *   computed. A runtime's own copies above the socket (Bun, Deno, node)
 *   are not counted: the C server makes none.
 *
 * @module
 */

/** The touches of one side: copies and checksum passes over each payload byte. */
export interface SideTouches {
  copies: number;
  checksums: number;
  /** copies + checksums. */
  total: number;
  /** Where each happens. */
  how: string;
}

/** The touches per side of one configuration: sending and receiving, for each end. */
export interface Touches {
  /** Who is at each end, e.g. "luna-ts both", "luna-ts / kernel (C client)". */
  ends: string;
  send: SideTouches;
  receive: SideTouches;
  /** The other end, where it differs from this one. */
  peer?: { send: SideTouches; receive: SideTouches };
  /** Who the peer is, where it differs (default "kernel"). */
  peerIs?: string;
}

const side = (copies: string[], checksums: string[]): SideTouches => ({
  copies: copies.length,
  checksums: checksums.length,
  total: copies.length + checksums.length,
  how: [...copies, ...checksums.map((c) => `${c} (checksum)`)].join(", ") || "none",
});

const kernelSend = (csum: boolean) =>
  side(["kernel: user memory -> socket buffer"], csum ? ["kernel, in software (offload off)"] : []);
const kernelReceive = (csum: boolean) =>
  side(["kernel: socket buffer -> user memory"], csum ? ["kernel, in software (offload off)"] : []);

/** The touches of configuration `config` (see the module documentation), or undefined where not derived. */
export function payloadTouches(config: string): Touches | undefined {
  if (config.startsWith("luna-memif-zc-")) {
    return {
      ends: "luna-ts both (the server memif's zero-copy client)",
      send: side(["write into zone buffers"], []),
      receive: side([], []),
      peer: {
        send: side(["write into zone buffers", "memif driver into the zero-copy side's buffers"], []),
        receive: side(["memif driver from the zero-copy side's buffers"], []),
      },
      peerIs: "luna-ts, memif server",
    };
  }
  if (/^luna-memif-/.test(config)) {
    const csum = config.startsWith("luna-memif-csum-");
    return {
      ends: "luna-ts both",
      // With checksums, the write's copy sums each block it copies (hot sums): no pass of its own.
      send: side([
        csum ? "write into zone buffers, summed as copied" : "write into zone buffers",
        "memif driver into the shared ring",
      ], []),
      receive: side(["memif driver from the shared ring"], csum ? ["shim"] : []),
    };
  }
  if (config.startsWith("luna-afpacket-")) {
    return {
      ends: "luna-ts / kernel (C client)",
      send: side(["write into zone buffers", "af_packet driver into the kernel's ring"], ["shim"]),
      receive: side(["kernel into the af_packet ring", "af_packet driver from the ring"], ["shim"]),
      peer: { send: kernelSend(true), receive: kernelReceive(true) },
    };
  }
  if (config.startsWith("luna-packet-")) {
    // PACKET_VNET_HDR: the kernel copies the chain's links into its skb and out of it into the receive
    // chains; the checksums are the veth's offload (none computed on either side of it).
    return {
      ends: "luna-ts / kernel",
      send: side(["write into zone buffers", "kernel: zone buffers -> skb (sendmmsg)"], []),
      receive: side(["kernel: skb -> zone buffers (recvmmsg)"], []),
      peer: { send: kernelSend(false), receive: kernelReceive(false) },
    };
  }
  if (/^(bun|deno|node|c|c-busy)-kernel-(lo|veth)$/.test(config)) {
    return { ends: "kernel both", send: kernelSend(false), receive: kernelReceive(false) };
  }
  return undefined;
}

/** The terminal lines: one per configuration, stated once. */
export function touchesLines(configs: readonly string[]): string[] {
  const known = [...new Set(configs)].map((c) => [c, payloadTouches(c)] as const).filter(([, t]) => t);
  if (known.length === 0) return [];
  const lines = [
    "",
    "payload bytes touched per side (copies + checksum passes over each byte, derived from the configuration):",
    "config".padEnd(24) + "  send  receive  where",
  ];
  for (const [c, t] of known) {
    const s = t!.send;
    const r = t!.receive;
    lines.push(
      c.padEnd(24) + String(s.total).padStart(6) + String(r.total).padStart(9) +
        `  send: ${s.how}; receive: ${r.how}` +
        (t!.peer
          ? `; peer (${t!.peerIs ?? "kernel"}) send ${t!.peer.send.total}, receive ${t!.peer.receive.total}`
          : ""),
    );
  }
  return lines;
}
