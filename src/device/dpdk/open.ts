/**
 * Opening a DPDK port from a device spec, in one place: the EAL started with
 * the spec's devices, a packet pool whose buffers hold a whole frame of the
 * MTU, and the port configured (queues, checksum offloads, RSS, MTU) and
 * started. `createStack` opens its port here, and so do the per-core workers,
 * which then hand one queue pair to each Worker thread.
 *
 * @example
 * ```ts
 * import { openDpdkPort } from "./open.ts";
 * import { parseDeviceSpec } from "../spec.ts";
 * const spec = parseDeviceSpec("memif:/run/luna.sock,server", "device", { mtu: 9000 });
 * const { dpdk, port, zone } = await openDpdkPort({ spec, mtu: 9000, buffers: 8191 });
 * ```
 *
 * @module
 */
import { Offload, Rss } from "../../../ffi/symbols.ts";
import { ConfigError } from "../../errors.ts";
import type { DeviceSpec } from "../spec.ts";
import { Dpdk, type EalOptions } from "./eal.ts";
import { dataRoomForChainedMtu, dataRoomForMtu, dataRoomMax, type DpdkZone, mbufHeadroom } from "./pool.ts";
import type { Port } from "./port.ts";

let zoneSeq = 0;

/** EAL settings of {@link openDpdkPort}: the devices and PCI probing come from the spec. */
export type PortEalOptions = Partial<Omit<EalOptions, "vdevs" | "pci">>;

/** Options of {@link openDpdkPort}. */
export interface OpenPortOptions {
  /** The device, parsed with the MTU (memif sizes its own buffers by it). */
  spec: DeviceSpec;
  /** The MTU to run the port at; default: the port's own. */
  mtu?: number;
  /** Packet buffers in the pool, for all queues together. */
  buffers: number;
  /** Queue pairs (each receive queue with its transmit queue). Default 1. */
  queues?: number;
  /** The setting a ConfigError names when the port has fewer queues than asked. Default "queues". */
  queuesField?: string;
  /**
   * Offload bits (ffi Offload) wanted on receive and on transmit: turned on
   * in a direction where the port offers all of them, else none there.
   * Default: IPv4 and TCP checksums.
   */
  offloads?: number;
  /** RSS hash bits (ffi Rss) wanted with more than one queue, where the port offers them. Default: TCP over IPv4. */
  rss?: number;
  /** Receive frames addressed to any MAC (the stack answers for one other than the port's). */
  promiscuous?: boolean;
  /**
   * "auto" (default): a link that needs no checksums (net_memif) gets none,
   * filled or verified; "always": the shim or the port does them everywhere.
   */
  checksums?: "auto" | "always";
  /**
   * Large TCP segments (default true): the port cuts them where it offers
   * TSO, elsewhere the shim does (DPDK's GSO), where the port sends chained
   * buffers (not net_af_xdp, net_ring).
   */
  segmentation?: boolean;
  /**
   * Receive coalescing (default false): in-order TCP segments of one flow
   * arrive as one chained packet, coalesced by the port where it offers LRO,
   * elsewhere by the shim (DPDK's GRO library, within each receive burst).
   */
  receiveOffload?: boolean;
  /** EAL settings; `prefix` defaults to `luna-<pid>`. */
  eal?: PortEalOptions;
}

/** An opened port: the running EAL (which closes the port and pool with it), the port, its pool. */
export interface OpenedPort {
  dpdk: Dpdk;
  port: Port;
  zone: DpdkZone;
  /** Offload bits turned on for receive. */
  rxOffloads: number;
  /** Offload bits turned on for transmit. */
  txOffloads: number;
  /** RSS hash bits turned on. */
  rss: number;
  /** Who coalesces received segments: the port (LRO), the shim (GRO), or nobody. */
  rxCoalescing: "lro" | "gro" | "none";
}

/**
 * Takes a share of this process's EAL (started by the first call, kept by
 * later ones: see Dpdk.share) with `options.spec`'s device attached, makes
 * the packet pool, and configures and starts the port with `options.queues`
 * queue pairs. Closing the returned `dpdk` removes the device and frees the
 * pool; the EAL stays up. On failure the share is closed again and the error thrown:
 * {@link ConfigError} naming `mtu` (with the PMD's limits) when the PMD
 * refuses the MTU, naming `options.queuesField` when the port has too few
 * queues; EalError, NoSuchPortError or PortError otherwise.
 */
export async function openDpdkPort(options: OpenPortOptions): Promise<OpenedPort> {
  const { spec, mtu, eal = {} } = options;
  const queues = options.queues ?? 1;
  for (const [k, v] of Object.entries(spec.env)) process.env[k] ??= v;
  // memif takes its queue count from the port configuration; af_packet and af_xdp from their
  // arguments, as the user wrote them (one queue pair for af_packet:IF and af_xdp:IF): more
  // workers than that are refused below, naming the option.
  const vdevs = spec.vdevs;
  let dpdk: Dpdk;
  try {
    dpdk = await Dpdk.share({
      ...eal,
      prefix: eal.prefix ?? `luna-${process.pid}`,
      vdevs,
      pci: spec.pci,
      extra: [...spec.eal, ...(eal.extra ?? [])],
    });
  } catch (e) {
    // A device DPDK cannot make is the user's spec at fault: say which, in one line.
    const bad = /Unable to parse device '([^']+)'|failed to parse device "([^"]+)"/.exec(
      (e as Error).message,
    );
    if (bad !== null) {
      throw new ConfigError(
        "device",
        `DPDK has no driver that makes '${
          bad[1] ?? bad[2]
        }' (check the name: net_memif, net_af_packet, net_af_xdp, net_tap, net_ring, net_null, ...)`,
      );
    }
    throw e;
  }
  try {
    // A virtual device is attached under a name of its own (net_memif1 beside a running net_memif0).
    const port = dpdk.attachedPorts[0] ?? dpdk.port(spec.portName);
    const info = port.describe();
    if (info.maxRxQueues < queues || info.maxTxQueues < queues) {
      throw new ConfigError(
        options.queuesField ?? "queues",
        `${spec.portName} has ${Math.min(info.maxRxQueues, info.maxTxQueues)} queue pair(s), ${queues} asked` +
          (spec.kind === "af_packet" || spec.kind === "af_xdp"
            ? ` (${spec.kind}:IFACE has one; eal:${spec.vdevs[0].replace(/,qpairs=1|,queue_count=1/, "")},${
              spec.kind === "af_packet" ? "qpairs" : "queue_count"
            }=N configures more)`
            : ""),
      );
    }
    // Every frame of the MTU fits one buffer (longer ones, and coalesced segments, arrive chained),
    // but on a port whose PMD chains buffers for frames longer than a jumbo frame's.
    // memif's zero-copy client lends its pool's buffers to the server's transmit ring, one frame to
    // each: a frame the server spreads over two keeps the first one's chain flag (DPDK 22.11's copy
    // transmit never clears it; the zero-copy refill does not either), which glues frames together
    // a lap later. So a whole frame fits one buffer there, whatever the MTU.
    const frameMtu = mtu ?? info.mtu;
    const dataRoom = spec.mtuPmdUnbounded && !spec.sharesPool
      ? dataRoomForChainedMtu(frameMtu)
      : dataRoomForMtu(frameMtu);
    if (dataRoom > dataRoomMax) {
      throw new ConfigError(
        "mtu",
        `${spec.portName}: MTU ${frameMtu} refused: a frame goes in one buffer on this port, ` +
          `at most ${(dataRoomMax & ~63) - mbufHeadroom - 14} bytes of IP packet`,
      );
    }
    const zone = dpdk.createZone(`luna${zoneSeq++ || ""}`, { count: options.buffers, dataRoom });
    const wanted = options.offloads ?? (Offload.ipv4Cksum | Offload.tcpCksum);
    let rxOffloads = (info.rxOffloads & wanted) === wanted ? wanted : 0;
    let rxCoalescing: OpenedPort["rxCoalescing"] = "none";
    if (options.receiveOffload === true) {
      if ((info.rxOffloads & Offload.tcpLro) !== 0 && rxOffloads !== 0) {
        rxOffloads |= Offload.tcpLro;
        rxCoalescing = "lro";
      } else {
        rxCoalescing = "gro";
      }
    }
    let txOffloads = (info.txOffloads & wanted) === wanted ? wanted : 0;
    if (options.segmentation ?? true) {
      if ((info.txOffloads & Offload.tcpTso) !== 0 && txOffloads !== 0) txOffloads |= Offload.tcpTso;
      else if ((info.txOffloads & Offload.tcpGso) !== 0) txOffloads |= Offload.tcpGso;
    }
    const rssWanted = options.rss ?? Rss.ipv4Tcp;
    const rss = queues > 1 && (info.rssHashes & rssWanted) === rssWanted ? rssWanted : 0;
    try {
      port.configure({
        zone,
        rxQueues: queues,
        txQueues: queues,
        rxOffloads,
        txOffloads,
        rss,
        mtu,
        mtuPmdUnbounded: spec.mtuPmdUnbounded,
        noChecksums: spec.kind === "memif" && (options.checksums ?? "auto") === "auto",
        softwareCoalescing: rxCoalescing === "gro",
        txQuads: spec.sharesPool === true,
      });
    } catch (e) {
      // The PMD's refusal of the MTU is the user's setting at fault.
      const refusal = mtu !== undefined ? /MTU \d+.*/s.exec((e as Error).message) : null;
      if (refusal !== null) throw new ConfigError("mtu", `${spec.portName}: ${refusal[0].trim()}`);
      throw e;
    }
    if (spec.sharesPool) {
      // After configure: the shim's chain pools (GSO) are made there, and go out zero-copy too.
      const rc = dpdk.shim.symbols.luna_mem_shareable();
      if (rc < 0) {
        throw new ConfigError(
          "device",
          `${spec.spec}: memif zero-copy cannot share this process's memory: ${dpdk.shim.lastError().trim()}`,
        );
      }
    }
    port.start();
    if (options.promiscuous) port.promiscuous(true);
    return { dpdk, port, zone, rxOffloads, txOffloads, rss, rxCoalescing };
  } catch (e) {
    try {
      dpdk.close();
    } catch {
      // the first error says more
    }
    throw e;
  }
}
