/**
 * A DPDK ethernet port: configure, start, stop, inspect, and move bursts of
 * descriptor records (see ffi/symbols.ts, DESC_WORDS) with one FFI call each.
 *
 * @module
 */
import {
  BURST_BACKLOG,
  BURST_MAX,
  cString,
  DESC_WORDS,
  PortFlag,
  PortInfo,
  PortStat,
  readString,
  type Shim,
} from "../../../ffi/mod.ts";
import { ConfigError, errnoName, NoSuchPortError, PortError } from "../../errors.ts";
import type { DpdkZone } from "./pool.ts";

/** What a port is and can do. */
export interface PortDescription {
  /** DPDK's port id. */
  id: number;
  /** DPDK's device name (`net_memif0`). */
  name: string;
  /** The driver's name. */
  driver: string;
  /** Receive queues it offers, at most. */
  maxRxQueues: number;
  /** Transmit queues it offers, at most. */
  maxTxQueues: number;
  /** Offload bits (ffi Offload) the port can do on receive. */
  rxOffloads: number;
  /** Offload bits (ffi Offload) the port can do on transmit. */
  txOffloads: number;
  /** RSS hash bits (ffi Rss) the port can hash on. */
  rssHashes: number;
  /** Entries of its RSS redirection table. */
  retaSize: number;
  /** Receive ring size, at most. */
  rxDescMax: number;
  /** Transmit ring size, at most. */
  txDescMax: number;
  /** Longest frame it receives, bytes. */
  maxRxPktLen: number;
  /** The MTU: once configured, the one luna runs the port at (see {@link PortConfig.mtu}). */
  mtu: number;
  /** Whether the port is started. */
  started: boolean;
  /**
   * Buffers of the zone the port holds to receive into, for as long as it is
   * open: a `packet:` port's receive chains (a DPDK driver's ring: 0, its own).
   */
  rxHeld: number;
}

/** Options of {@link Port.configure}. */
export interface PortConfig {
  /** The zone received buffers come from and sent buffers belong to. */
  zone: DpdkZone;
  /** Receive queues; default 1. */
  rxQueues?: number;
  /** Transmit queues; default 1. */
  txQueues?: number;
  /** Receive ring size; the port may adjust it. Default 1024. */
  rxDesc?: number;
  /** Transmit ring size; the port may adjust it. Default 1024. */
  txDesc?: number;
  /** Offload bits to turn on for receive; each must be offered. */
  rxOffloads?: number;
  /** Offload bits to turn on for transmit; each must be offered. */
  txOffloads?: number;
  /** RSS hash bits; with more than one receive queue. */
  rss?: number;
  /**
   * The MTU to run the port at, bytes of IP packet; default: the port's own.
   * The zone's buffers must hold a frame of `mtu + 14` after the headroom
   * (pool.ts `dataRoomForMtu` sizes it), and the PMD must accept it unless
   * `mtuPmdUnbounded` says that its limit does not bind. Received frames
   * longer than `mtu + 14` are dropped and counted (`rxOversizeDropped`).
   */
  mtu?: number;
  /**
   * The PMD carries frames of any length whatever limit it advertises
   * (net_memif): an MTU above that limit is then kept by luna alone.
   */
  mtuPmdUnbounded?: boolean;
  /**
   * The link needs no checksums (net_memif: shared memory on one host):
   * none are filled or verified, and received frames are taken as good.
   * Both ends of the link must say the same.
   */
  noChecksums?: boolean;
  /**
   * Coalesce received TCP segments in the shim (DPDK's GRO library): in-order
   * segments of one flow within a receive burst reach rx as one chained
   * packet (RxFlag.more records).
   */
  softwareCoalescing?: boolean;
  /**
   * Hand the PMD's transmit at most 4 packets a call (PortFlag.txQuads):
   * memif's zero-copy client needs it.
   */
  txQuads?: boolean;
}

/** Link state. */
export interface LinkStatus {
  /** Whether the link is up. */
  up: boolean;
  /** Link speed, Mbit/s. */
  speedMbps: number;
  /** Whether the link is full duplex. */
  fullDuplex: boolean;
  /** Whether the speed was negotiated. */
  autoneg: boolean;
}

/** Basic counters of a port, with the shim's own drops. */
export interface PortStats {
  /** Packets received. */
  ipackets: number;
  /** Packets sent. */
  opackets: number;
  /** Bytes received. */
  ibytes: number;
  /** Bytes sent. */
  obytes: number;
  /** Packets the port dropped for want of room in its receive ring. */
  imissed: number;
  /** Receive errors. */
  ierrors: number;
  /** Transmit errors. */
  oerrors: number;
  /** Receive buffer allocation failures. */
  rxNombuf: number;
  /** Received frames dropped by the shim: from a buffer of another pool. */
  rxForeignDropped: number;
  /** Received frames dropped by the shim: chained (longer than a buffer). */
  rxMultisegDropped: number;
  /** Records refused by the shim's transmit checks. */
  txInvalidRefused: number;
  /** Received frames longer than the MTU plus the Ethernet header, dropped by the shim. */
  rxOversizeDropped: number;
  /** Large TCP packets cut into segments: by the shim (GSO) or by the port (TSO). */
  txSegPackets: number;
  /** Segments the shim cut them into (with TSO the port counts them). */
  txSegSegments: number;
  /** Segments cut that the port did not take: lost, TCP recovers them. */
  txSegDropped: number;
  /** Chains left to the caller because the shim's own buffers ran out. */
  txChainNoMbuf: number;
  /** Coalesced packets the shim made (software GRO). */
  rxGroPackets: number;
  /** Received segments merged into them. */
  rxGroSegments: number;
  /** Chained packets received: coalesced, or frames longer than one buffer. */
  rxChains: number;
  /**
   * Frames the kernel dropped before DPDK saw them because an af_packet
   * socket's ring was full (the loop fell behind): PACKET_STATISTICS, which
   * DPDK 22.11's net_af_packet leaves unread (its imissed stays 0); or an
   * AF_XDP socket's rx ring (XDP_STATISTICS rx_ring_full, which its
   * net_af_xdp leaves out of imissed). 0 elsewhere.
   */
  rxRingDropped: number;
  /** Coalesced packets the port delivered (its LRO; on a `packet:` port, the kernel's GSO packets). */
  rxLroPackets: number;
  /** Frames a `packet:` port dropped: a malformed virtio_net_hdr, or longer than a receive chain holds. */
  rxVnetDropped: number;
  /**
   * Transmit mbufs made for the port that it did not take (its ring was
   * full): the records stay the caller's and are made again at a later
   * burst. The shim hands them over in steps, so a call makes at most a
   * step's worth the ring refuses.
   */
  txRefused: number;
  /**
   * Transmit bursts the shim handed the port's driver (`rte_eth_tx_burst`
   * calls): a transmit call makes one per step, and one more for segments
   * held from the last call.
   */
  txPmdCalls: number;
  /** Runs of received segments the shim handed GRO (`rte_gro_reassemble_burst` calls). */
  rxGroCalls: number;
}

/** A port of the running EAL. Obtain one from {@link Dpdk}. */
export class Port {
  /** DPDK's port id. */
  readonly id: number;
  /** DPDK's device name. */
  readonly name: string;
  private readonly _shim: Shim;
  private readonly _rx: Shim["symbols"]["luna_rx_burst"];
  private readonly _tx: Shim["symbols"]["luna_tx_burst"];
  private _zone: DpdkZone | undefined;
  private _pool = -1;
  /** Offload bits (ffi Offload) turned on for transmit by {@link configure}. */
  txOffloads = 0;
  /**
   * Per transmit queue, 1 while the shim holds segments of a packet the PMD
   * took only part of: a {@link tx} call, of no records if need be, sends them.
   */
  readonly txBacklog: Uint8Array = new Uint8Array(1024);

  /** @internal Wraps port `id` of the running EAL; use `Dpdk.port` or `Dpdk.attach`. */
  constructor(shim: Shim, id: number) {
    this._shim = shim;
    this.id = id;
    const name = readString((b, n) => shim.symbols.luna_port_name(id, b, n), 128);
    if (name === "") throw new NoSuchPortError(id, shim.lastError());
    this.name = name;
    this._rx = shim.symbols.luna_rx_burst;
    this._tx = shim.symbols.luna_tx_burst;
  }

  /** The zone given to {@link configure}. */
  get zone(): DpdkZone {
    if (this._zone === undefined) throw new PortError(this.id, `port ${this.name} is not configured`, -22);
    return this._zone;
  }

  /** Capabilities and state. */
  describe(): PortDescription {
    const w = new Uint32Array(PortInfo.words);
    this._check(this._shim.symbols.luna_port_info(this.id, w, w.length), "info");
    const driver = readString((b, n) => this._shim.symbols.luna_port_driver(this.id, b, n), 128);
    return {
      id: this.id,
      name: this.name,
      driver,
      maxRxQueues: w[PortInfo.maxRxQueues],
      maxTxQueues: w[PortInfo.maxTxQueues],
      rxOffloads: w[PortInfo.rxOffloads],
      txOffloads: w[PortInfo.txOffloads],
      rssHashes: w[PortInfo.rssHashes],
      retaSize: w[PortInfo.retaSize],
      rxDescMax: w[PortInfo.rxDescMax],
      txDescMax: w[PortInfo.txDescMax],
      maxRxPktLen: w[PortInfo.maxRxPktLen],
      mtu: w[PortInfo.mtu],
      started: w[PortInfo.started] !== 0,
      rxHeld: w[PortInfo.rxHeld],
    };
  }

  /** Sets queues, rings and offloads; received buffers will come from `config.zone`. */
  configure(config: PortConfig): void {
    const rxq = config.rxQueues ?? 1;
    const txq = config.txQueues ?? 1;
    const rxd = config.rxDesc ?? 1024;
    const txd = config.txDesc ?? 1024;
    const mtu = config.mtu ?? 0;
    if (!Number.isInteger(mtu) || mtu < 0 || mtu > 65535) {
      throw new ConfigError("mtu", `expected an integer 68..65535, got ${mtu}`);
    }
    for (const [field, v, hi] of [
      ["rxQueues", rxq, 1024],
      ["txQueues", txq, 1024],
      ["rxDesc", rxd, 65535],
      ["txDesc", txd, 65535],
    ] as const) {
      if (!Number.isInteger(v) || v < 1 || v > hi) {
        throw new ConfigError(field, `expected an integer 1..${hi}, got ${v}`);
      }
    }
    const rc = this._shim.symbols.luna_port_configure(
      this.id,
      config.zone.pool,
      rxq,
      txq,
      rxd,
      txd,
      config.rxOffloads ?? 0,
      config.txOffloads ?? 0,
      config.rss ?? 0,
      mtu,
      (config.mtuPmdUnbounded ? PortFlag.mtuPmdUnbounded : 0) | (config.noChecksums ? PortFlag.noCksum : 0) |
        (config.softwareCoalescing ? PortFlag.gro : 0) | (config.txQuads ? PortFlag.txQuads : 0),
    );
    this._check(rc, "configure");
    this.txOffloads = config.txOffloads ?? 0;
    this._zone = config.zone;
    this._pool = config.zone.pool;
  }

  /**
   * Uses a port another thread configured (a Worker on its own queue):
   * received buffers come from `zone`, as configured there.
   */
  adopt(zone: DpdkZone): void {
    this._zone = zone;
    this._pool = zone.pool;
  }

  /** Starts the port; bursts may flow. */
  start(): void {
    this._check(this._shim.symbols.luna_port_start(this.id), "start");
  }

  /** Stops the port. */
  stop(): void {
    this._check(this._shim.symbols.luna_port_stop(this.id), "stop");
  }

  /** Releases the port; it cannot be used again. */
  close(): void {
    this._check(this._shim.symbols.luna_port_close(this.id), "close");
    this._zone = undefined;
    this._pool = -1;
  }

  /** Turns promiscuous reception on or off. */
  promiscuous(on: boolean): void {
    this._check(this._shim.symbols.luna_port_promiscuous(this.id, on ? 1 : 0), "promiscuous");
  }

  /** The port's MAC address, 6 bytes. */
  mac(): Uint8Array {
    const out = new Uint8Array(6);
    this._check(this._shim.symbols.luna_port_mac(this.id, out), "mac");
    return out;
  }

  /** Link state, read without waiting. */
  link(): LinkStatus {
    const w = new Uint32Array(4);
    this._check(this._shim.symbols.luna_port_link(this.id, w), "link");
    return { speedMbps: w[0], fullDuplex: w[1] !== 0, autoneg: w[2] !== 0, up: w[3] !== 0 };
  }

  /** Basic counters. */
  stats(): PortStats {
    const v = new BigUint64Array(PortStat.words);
    this._check(this._shim.symbols.luna_port_stats(this.id, v, v.length), "stats");
    const out = {} as Record<string, number>;
    for (const [k, i] of Object.entries(PortStat)) if (k !== "words") out[k] = Number(v[i]);
    return out as unknown as PortStats;
  }

  /** Zeroes the basic counters. */
  resetStats(): void {
    this._check(this._shim.symbols.luna_port_stats_reset(this.id), "stats reset");
  }

  /** The driver's extended counters, by name. */
  xstats(): Record<string, number> {
    const names = new Uint8Array(1 << 16);
    const n = this._check(this._shim.symbols.luna_port_xstats_names(this.id, names, names.length), "xstats");
    const values = new BigUint64Array(n);
    const m = this._check(this._shim.symbols.luna_port_xstats(this.id, values, n), "xstats");
    const out: Record<string, number> = {};
    const text = new TextDecoder().decode(names).split("\0");
    for (let i = 0; i < Math.min(n, m); i++) out[text[i]] = Number(values[i]);
    return out;
  }

  /**
   * Receives up to `max` packets from `queue` into descriptor records
   * `descs[0 .. n*DESC_WORDS)` and returns n. Each received buffer is the
   * caller's, to release through the zone or to send.
   */
  rx(queue: number, descs: Uint32Array, max: number): number {
    if (max * DESC_WORDS > descs.length || max > BURST_MAX) {
      throw new RangeError(`rx: room for ${descs.length / DESC_WORDS} records, ${max} asked (at most ${BURST_MAX})`);
    }
    const n = this._rx(this.id, queue, descs, max);
    if (n < 0) throw this._error(n, "rx");
    return n;
  }

  /**
   * Sends the `n` packets described by `descs` on `queue`; returns how many
   * the port took. Those buffers now belong to the port (a retained buffer
   * keeps the caller's reference); the rest remain the caller's.
   */
  tx(queue: number, descs: Uint32Array, n: number): number {
    if (n * DESC_WORDS > descs.length || n > BURST_MAX) {
      throw new RangeError(`tx: ${n} records asked, ${descs.length / DESC_WORDS} given (at most ${BURST_MAX})`);
    }
    const r = this._tx(this.id, queue, this._pool, descs, n);
    if (r < 0) throw this._error(r, "tx");
    this.txBacklog[queue] = (r & BURST_BACKLOG) !== 0 ? 1 : 0;
    return r & 0xffff;
  }

  /** Throws the port's error for a negative `rc`; returns `rc`. */
  private _check(rc: number, op: string): number {
    if (rc < 0) throw this._error(rc, op);
    return rc;
  }

  /** The typed error for `rc` of `op`. */
  private _error(rc: number, op: string): PortError {
    const detail = this._shim.lastError() || errnoName(rc);
    if (rc === -19) return new NoSuchPortError(this.id, `port ${this.name}: ${detail}`);
    return new PortError(this.id, `port ${this.name}: ${op} failed (${errnoName(rc)}): ${detail}`, rc);
  }
}

/** Finds a port by DPDK name and wraps it. */
export function findPort(shim: Shim, name: string): Port {
  const b = cString(name);
  const id = shim.symbols.luna_port_find(b, b.length);
  if (id < 0) throw new NoSuchPortError(name, shim.lastError());
  return new Port(shim, id);
}
