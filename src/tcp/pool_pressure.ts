/**
 * Pool pressure, as Linux's tcp_mem: every connection may advertise its
 * whole receive buffer, and together they can promise far more than the
 * zone holds. Received data that nobody has read yet must not take the
 * buffers that writes (and the ACKs that free sent data) need, or an echo
 * server with full receive queues and nothing to write with deadlocks.
 * Under a quarter free, windows stop widening; under an eighth, received
 * payload is dropped (the peer sends it again) where unread data already
 * waits, and under a thirty-second everywhere; writes keep a sixteenth.
 * Once three eighths are free again, the held windows are reopened.
 *
 * No connection can starve the others (as Linux bounds each socket's
 * sndbuf inside tcp_mem): the buffers a connection's unsent and
 * unacknowledged data holds are bounded by a share of the zone: half of it
 * split among the connections (stalled send queues alone never make the zone
 * run low: the other half serves receiving and the ACKs that free
 * buffers), but never below {@link sendShareMin}
 * buffers (a 64 KiB answer's worth with room to spare). Every connection
 * counts, not only those holding data now: the first to stall must not take
 * what the later ones are owed. A client that never reads fills its own
 * share and waits; the others go on. On a link as short as memif's, 48
 * buffers in flight still carry gigabytes a second.
 *
 * The receive side has its share too (Linux's rcvbuf inside tcp_mem): the
 * buffers a connection's unread and out-of-order data hold are bounded by
 * half the zone split among the connections, never below
 * {@link recvShareMin}. A connection at its share stops widening its window
 * (output.ts receiveWindow), so the window closes as the peer fills it, and
 * payload past the share is dropped and counted (`rcvShareDrops`): a peer
 * sending tiny segments into an honest window cannot take more buffers than
 * the share either. Its application reads, and the window opens again.
 * Where a segment spans buffers, the window counts a buffer at what it holds
 * of a full segment; a segment that does not fill its last buffer leaves
 * the window a little past the share, so payload inside the advertised
 * window is taken up to one full segment's buffers past it (the window then
 * closes, and the peer probes it) rather than dropped again and again
 * until the sender's retransmissions run out.
 *
 * @module
 */
import type { MemZone } from "../mem/zone.ts";
import type { TcpCounters } from "./counters.ts";
import type { Tcb } from "./tcb.ts";

/** The fewest buffers a connection's send data may hold, whatever the number of connections. */
export const sendShareMin = 48;

/** The fewest buffers a connection's received, unread data may hold: 64 KiB of full segments, with room. */
export const recvShareMin = 48;

/**
 * Buffers a full segment from the peer takes where each holds `bufferBytes`:
 * its frame (Ethernet, IPv4 and TCP headers, and the MSS, which the options
 * take their room from; the one we send taken as the peer's) over the
 * buffers of a chain; 1 where a frame fits a buffer.
 */
export function segmentBuffers(bufferBytes: number, tcb: Tcb): number {
  // 14 + 20 + 20 bytes of headers; options (timestamps) take their room from the MSS.
  const frame = tcb.sndMss + 54;
  return frame <= bufferBytes ? 1 : Math.ceil(frame / bufferBytes); // no division for the common case
}

/** Buffers `tcb`'s received data holds now: unread, and out of order. */
export function recvHeld(tcb: Tcb): number {
  return tcb.recvq.chunks + (tcb.reasm === undefined ? 0 : tcb.reasm.count);
}

/** The zone's level as TCP sees it; see the module documentation. */
export class PoolPressure {
  /** The zone runs low (under a quarter free): receive windows stop widening (output.ts receiveWindow). */
  tight = false;
  /**
   * The zone is nearly out (under an eighth free): received payload is
   * dropped on connections that already hold unread data, so that what is
   * left serves the writes and ACKs that free buffers.
   */
  low = false;
  /** Under a thirty-second free: received payload is dropped on every connection. */
  critical = false;
  private readonly _zone: MemZone;
  private readonly _counters: TcpCounters;
  /** The free buffers when last counted, less what writes took since: counting is too dear for every write. */
  private _free = 0;
  private _segs = 0;
  private _at = -Infinity;
  /** Connections whose receive window was held while the zone ran low: told when it recovers. */
  private readonly _held = new Set<Tcb>();
  /** Connections that could not write for want of buffers. */
  private readonly _starved: Tcb[] = [];

  /**
   * Payload bytes one received buffer holds at most: a segment longer than
   * that (on a link that chains buffers for long frames) takes several.
   */
  readonly bufferBytes: number;

  constructor(zone: MemZone, counters: TcpCounters) {
    this._zone = zone;
    this._counters = counters;
    this.bufferBytes = zone.dataRoomSize - zone.headroom;
    this.connections = 0;
  }

  /** Whether `tcb` waits here: its window held, or a write waiting for buffers. */
  holds(tcb: Tcb): boolean {
    return this._held.has(tcb) || (this._starved.length > 0 && this._starved.includes(tcb));
  }

  /**
   * Counts the zone now and then and sets the levels. Returns the connections
   * whose windows were held, when the zone has recovered (their windows may
   * open), else undefined.
   */
  watch(now: number): Tcb[] | undefined {
    // Counting a DPDK pool's free buffers walks its per-core caches: look every 128
    // segments received or every half millisecond, whichever comes first.
    const segs = this._counters.inSegs;
    if (segs - this._segs < 128 && now - this._at < 0.5) return undefined;
    this._segs = segs;
    this._at = now;
    const free = this._zone.freeCount();
    this._free = free;
    const cap = this._zone.capacity;
    this.low = free < cap >>> 3;
    this.critical = free < cap >>> 5;
    if (!this.tight) {
      this.tight = free < cap >>> 2;
    } else if (free > (cap >>> 2) + (cap >>> 3)) {
      this.tight = false;
      if (this._held.size > 0) {
        const list = [...this._held];
        this._held.clear();
        return list;
      }
    }
    return undefined;
  }

  private _connections = 0;
  /** Half the zone split among the connections: each side's share before its floor (computed as they come and go). */
  private _split = 0;

  /** Connections with a control block: the send and receive shares split the zone among them. */
  get connections(): number {
    return this._connections;
  }
  set connections(n: number) {
    this._connections = n;
    this._split = Math.floor((this._zone.capacity >>> 1) / (n > 0 ? n : 1));
  }

  /** Buffers one connection's send data may hold now (see the module documentation). */
  sendShare(): number {
    return this._split > sendShareMin ? this._split : sendShareMin;
  }

  /** Buffers one connection's received, unread data may hold now (see the module documentation). */
  recvShare(): number {
    return this._split > recvShareMin ? this._split : recvShareMin;
  }

  /**
   * Whether payload arriving for `tcb` must be dropped (and is counted): the zone is nearly
   * out and this connection already holds data its application has not taken (more would
   * take what writes and ACKs need), or its unread data holds its share ({@link overRecvShare}).
   * `inWindow`: the payload ends within the window advertised.
   */
  dropsPayload(tcb: Tcb, inWindow: boolean): boolean {
    if (this.low && (this.critical || tcb.recvq.bytes > 0 || tcb.reassemblyBytes > 0)) {
      this._counters.poolPressureDrops++;
      return true;
    }
    return this.overRecvShare(tcb, inWindow);
  }

  /**
   * Whether payload arriving for `tcb` must be dropped (and is counted) because its unread
   * data holds its whole share: its window is closing, and what still comes (tiny
   * segments, each taking a buffer) waits at the sender until the application reads.
   * With nothing unread, a segment that fills a hole is always taken (the reassembly
   * queue has its own bounds). Payload inside the advertised window (`inWindow`) may take
   * a full segment's buffers past the share: what the window promised where segments do
   * not fill their last buffer (see the module documentation).
   */
  overRecvShare(tcb: Tcb, inWindow: boolean): boolean {
    if (tcb.recvq.chunks === 0) return false;
    const share = this.recvShare() + (inWindow ? segmentBuffers(this.bufferBytes, tcb) : 0);
    if (recvHeld(tcb) < share) return false;
    this._counters.rcvShareDrops++;
    return true;
  }

  /** output.ts held `tcb`'s receive window because the zone runs low. */
  hold(tcb: Tcb): void {
    this._counters.poolPressureClamps++;
    this._held.add(tcb);
  }

  /**
   * How many buffers a write that needs `wanted` may take, keeping a
   * sixteenth of the zone for receiving (the ACKs that would free what is
   * written). Counted afresh when the last count runs near the reserve.
   */
  writeBudget(wanted: number): number {
    const reserve = this._zone.capacity >>> 4;
    if (this._free - reserve < wanted) this._free = this._zone.freeCount();
    return this._free - reserve;
  }

  /** A write took a buffer. */
  took(): void {
    this._free--;
  }

  /** `tcb` could not write for want of buffers: it hears when there is room again. */
  starve(tcb: Tcb): void {
    if (!this._starved.includes(tcb)) this._starved.push(tcb);
  }

  /** Connections that could not write for want of buffers hear when the zone has room above its reserve again. */
  feedStarved(): void {
    if (this._starved.length === 0) return;
    const cap = this._zone.capacity;
    if (this._free < (cap >>> 4) + (cap >>> 5)) return; // the writers' reserve, and room to make progress
    const list = this._starved.splice(0);
    for (const c of list) {
      if (c.dead || !c.wantWritable || c.finQueued) continue;
      c.wantWritable = false;
      c.handlers.onWritable?.(c);
    }
  }
}
