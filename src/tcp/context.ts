/**
 * What the parts of TCP are handed instead of the whole layer: the link
 * below (send a segment, room in the transmit batch), the zone, the
 * configuration and counters, and each other. The layer (tcp_layer.ts) makes
 * one context and the parts it holds: the sender (output.ts), the timers
 * (timers.ts), pool pressure (pool_pressure.ts), and itself as the owner of
 * the connections. Segment arrival (input.ts) and the handshake
 * (handshake.ts) see the connections only through this.
 *
 * @module
 */
import type { MemZone } from "../mem/zone.ts";
import type { Corks } from "./autocork.ts";
import type { TcpConfig } from "./config.ts";
import type { BbrOptions } from "./bbr.ts";
import type { CongestionControl, CongestionName, CongestionOptions } from "./congestion.ts";
import type { CubicOptions } from "./cubic.ts";
import type { TcpCounters } from "./counters.ts";
import type { Listener } from "./handshake.ts";
import type { TcpOutput } from "./output.ts";
import type { PoolPressure } from "./pool_pressure.ts";
import type { ReassemblyBudget } from "./reassembly.ts";
import type { Tcb } from "./tcb.ts";
import type { TcpTimers } from "./timers.ts";

/** What TCP needs of the IP layer below it. */
export interface TcpLink {
  /** Our IPv4 address. */
  readonly address: number;
  /** The link's MTU: the largest segment we take is this less 40. */
  readonly mtu: number;
  /**
   * Sends the TCP segment at zone offset `tcpOff` of buffer `h` (`tcpLen`
   * bytes, with room for the IPv4 and Ethernet headers before it) to `dst`;
   * takes the buffer reference. `ecn`: the IP header's ECN field (RFC 3168
   * 5: 2 for ECT(0) on new data of an ECN-capable connection, else 0).
   */
  sendTcp(h: number, tcpOff: number, tcpLen: number, dst: number, now: number, ecn?: number): void;
  /** TCP payload bytes the device takes in one large segment and cuts itself; 0: none. */
  readonly txSegmentMax: number;
  /**
   * Whether a frame longer than one buffer goes as a chain (DeviceOffloads.frameChains):
   * then a segment of the MSS spans buffers and leaves through {@link sendTcpChain}, whole.
   */
  readonly frameChains: boolean;
  /**
   * Sends a large segment as a chain for the device to cut into segments of
   * at most `mss` payload bytes: `firstLen` bytes at `tcpOff` of buffer `h`
   * (the header, maybe payload), then `nPieces` triples (buffer, data
   * offset, length) of `pieces`; takes a reference of each buffer; `ecn`
   * as for {@link sendTcp}, for every segment cut from it.
   */
  sendTcpChain(
    h: number,
    tcpOff: number,
    firstLen: number,
    tcpLen: number,
    pieces: Uint32Array,
    nPieces: number,
    mss: number,
    dst: number,
    now: number,
    ecn?: number,
  ): void;
  /** Frames the transmit batch can still take before it must be flushed. */
  txRoom(): number;
  /** Whether the transmit batch has drained to under half full. */
  txDrained(): boolean;
  /** Whether the device refused frames at the last flush: what was sent may not have left this host. */
  txBehind(): boolean;
  /** Hands the transmit batch to the device now. */
  flush(now: number): void;
}

/** What the parts of TCP ask of the layer that owns the connections. */
export interface ConnectionOwner {
  /** Whether a new connection to listener `l` stays within the stack's and the listener's limits. */
  admits(l: Listener): boolean;
  /** Makes a connection and puts it in the table. */
  create(localPort: number, remoteIp: number, remotePort: number, active: boolean, now: number): Tcb;
  /** Removes a connection: releases its buffers and timers, tells the application. */
  destroy(tcb: Tcb, error: string | undefined, now: number): void;
  /** A passive connection is established: its listener's application takes it. */
  accepted(tcb: Tcb): void;
  /** The application sees the connection closed (TIME-WAIT holds the tuple a while longer). */
  closedForApp(tcb: Tcb, now: number): void;
  /** Output stopped because the transmit batch was full: resume it when it drains, in turn. */
  txBlocked(tcb: Tcb): void;
  /** Whether connections wait for their turn at the transmit batch (see txHeld). */
  txWaiting(): boolean;
  /** A congestion controller, as congestion.ts createCongestionControl makes one (or a recycled one, reset). */
  congestionControl(
    name: CongestionName,
    mss: number,
    options: CongestionOptions & CubicOptions & BbrOptions,
  ): CongestionControl;
}

/** The parts of one TCP layer; see the module documentation. */
export interface TcpContext {
  readonly config: TcpConfig;
  readonly counters: TcpCounters;
  readonly zone: MemZone;
  readonly link: TcpLink;
  readonly out: TcpOutput;
  readonly timers: TcpTimers;
  readonly pool: PoolPressure;
  /** Out-of-order bytes all connections together may hold. */
  readonly reassemblyBudget: ReassemblyBudget;
  readonly conns: ConnectionOwner;
  /** Connections whose owed ACK waits for the end of the loop's iteration (input.ts). */
  readonly acksHeld: Corks;
}

/**
 * Owes `tcb` an ACK at the end of the loop's iteration (TcpLayer.flushCorked), where it leaves
 * unless a segment carried it first. `atOnce`: it leaves then (Tcb.ackBurstEnd); otherwise a
 * single segment's ACK may wait on the delayed-ACK timer from there.
 */
export function holdAck(x: TcpContext, tcb: Tcb, atOnce: boolean): void {
  if (atOnce) tcb.ackBurstEnd = true;
  if (!tcb.ackHeld) {
    tcb.ackHeld = true;
    x.acksHeld.add(tcb);
  }
}

/**
 * Records of the transmit batch kept for ACKs and control segments: with this
 * many or fewer left the device is behind (a full ring: the peer drains it
 * slower than we fill it), and data, new or sent again, waits.
 */
export const txRoomForData = 16;

/**
 * Whether `tcb` must wait before sending data now; if so it joins the queue of
 * connections waiting for the device (ConnectionOwner.txBlocked), and output()
 * runs for it again when its turn comes, once the batch drains. It waits when
 * the device is too far behind: on a lossless link a full ring is
 * backpressure, not loss; a segment pushed into a full batch would be
 * dropped, and waited for by a timer (like Linux's TSQ, which holds a
 * socket's packets back while earlier ones sit in the host's queues). And it
 * waits while others wait: the room the device makes goes to them first, in
 * the order they came (ConnectionOwner.txWaiting). Taken by whoever asked
 * while the batch happened to have room, it went to the connections an ACK
 * or a new request had just woken, over and over, while those in the queue
 * starved (storage RPC with 64 KiB answers over memif, 256 connections: the
 * slowest request in a hundred took 40 times the median's loop iterations).
 */
export function txHeld(x: TcpContext, tcb: Tcb): boolean {
  if (x.link.txRoom() > txRoomForData && !x.conns.txWaiting()) return false;
  x.conns.txBlocked(tcb);
  return true;
}
