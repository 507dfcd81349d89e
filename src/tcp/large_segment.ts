/**
 * Large segments: up to 64 KB of the send queue behind one header, handed to
 * the device as a chain of transmit records that it cuts into segments of
 * the MSS (the NIC's TSO, or DPDK's GSO in the shim). The payload stays where
 * the send queue holds it.
 *
 * @module
 */
import { CHAIN_RECORDS_MAX, GSO_SEGS_MAX } from "../device/device.ts";
import { ipHeadroom } from "../ip/ipv4_layer.ts";
import { TcpFlags } from "../wire/mod.ts";
import { dataEcn } from "./ecn.ts";
import type { TcpOutput } from "./output.ts";
import type { SendQueue } from "./send_queue.ts";
import type { Tcb } from "./tcb.ts";

/**
 * Sends `len` bytes at `seq` (with FIN if `fin`) as one large segment that
 * the device cuts into segments of the MSS (TSO or GSO). The payload is
 * not copied: the chunks of the send queue are handed to the device as
 * they are, behind the header, which goes in place in front of the first
 * chunk when {@link sendData} would put it there, else in a buffer of its
 * own. Returns the payload bytes sent: fewer than `len` when the chain
 * would take more records than the transmit batch has room for (then cut
 * at a multiple of the MSS), 0 when nothing could be sent.
 */
export function sendLarge(
  o: TcpOutput,
  tcb: Tcb,
  seq: number,
  len: number,
  fin: boolean,
  now: number,
): number {
  const zone = o._zone;
  const q = tcb.sendq;
  const at = (seq - tcb.sndUna) >>> 0;
  if (!q.find(at)) return 0;
  if (len > q.bytes - at) {
    len = q.bytes - at;
    fin = false;
  }
  // PSH only when the segment ends the queued data ({@link pushFlag}): the device's GSO
  // leaves it on the last segment it cuts.
  let hdr = o._prepare(tcb, seq, TcpFlags.ack | pushFlag(q, at, len) | (fin ? TcpFlags.fin : 0), len, now);
  // Options take room from the payload: each segment stays within MSS + 20 (RFC 9293 3.7.1).
  const segMss = tcb.sndMss + 20 - hdr;
  if (len > GSO_SEGS_MAX * segMss) {
    // SACK blocks made the segments smaller: no more of them than the device cuts.
    len = GSO_SEGS_MAX * segMss;
    fin = false;
    hdr = o._prepare(tcb, seq, TcpFlags.ack | pushFlag(q, at, len), len, now);
  }
  const h0 = q.foundH;
  const off0 = q.foundOff;
  const inPlace = q.foundChunkStart && off0 - zone.dataStart(h0) >= hdr + ipHeadroom &&
    zone.refcount(h0) === 1;
  let room = o._link.txRoom() - 8; // records left for ACKs and other connections
  if (room < 2) {
    // Not even the header's record: pushed now, the chain would be dropped whole. It waits.
    o._x.conns.txBlocked(tcb);
    return 0;
  }
  if (room > CHAIN_RECORDS_MAX) room = CHAIN_RECORDS_MAX;
  const p = o._pieces;
  let first = 0; // payload bytes behind the header, in the first record
  let done = 0;
  let np = 0;
  if (inPlace) first = done = Math.min(len, q.foundLen);
  while (done < len && np + 1 < room) {
    if (!q.find(at + done)) break;
    const n = Math.min(len - done, q.foundLen);
    p[3 * np] = q.foundH;
    p[3 * np + 1] = q.foundOff - zone.dataStart(q.foundH);
    p[3 * np + 2] = n;
    np++;
    done += n;
  }
  if (done < len) {
    // Out of records: a shorter large segment, cut at a multiple of the MSS.
    let keep = done >= segMss ? done - done % segMss : done;
    if (keep === 0) return 0;
    len = keep;
    fin = false;
    if (first > keep) first = keep;
    keep -= first;
    let j = 0;
    for (; j < np && keep > 0; j++) {
      if (p[3 * j + 2] > keep) p[3 * j + 2] = keep;
      keep -= p[3 * j + 2];
    }
    np = j;
    o._prepare(tcb, seq, TcpFlags.ack | pushFlag(q, at, len), len, now);
  }
  let h = h0;
  let tcpOff = off0 - hdr;
  if (!inPlace) {
    h = zone.tryTake();
    if (h < 0) {
      o._counters.noBufferDrops++;
      return 0;
    }
    tcpOff = zone.dataStart(h) + zone.headroom + ipHeadroom;
  } else {
    zone.retain(h); // the device's reference; the queue keeps its own
  }
  for (let j = 0; j < np; j++) zone.retain(p[3 * j]);
  const r = o.repr;
  const ef = dataEcn(o._x, tcb, seq, len, r.flags); // RFC 3168 6.1.5, 6.1.2
  r.flags = ef & 0xff;
  if ((r.flags & TcpFlags.ack) !== 0) o._ackLeaves(tcb);
  // The header alone is written here; the device sums each segment it cuts.
  r.payloadLen = 0;
  r.emit(o._view.attach(zone.bytes, tcpOff, hdr), tcb.localIp, tcb.remoteIp, false);
  r.payloadLen = len;
  const segs = Math.ceil(len / segMss);
  tcb.stats.segsOut += segs;
  tcb.stats.largeSegsOut++;
  tcb.lastSendAt = now;
  o._counters.outSegs += segs;
  o._counters.outLargeSegs++;
  o._link.sendTcpChain(h, tcpOff, hdr + first, hdr + len, p, np, segMss, tcb.remoteIp, now, ef >>> 8);
  // RACK keeps one record per large segment, as Linux keeps one per TSO buffer.
  o._sent(tcb, seq, len + ((r.flags & TcpFlags.fin) !== 0 ? 1 : 0), now);
  return len;
}

/** A large segment waits while the windows have room for less than this fraction of the smaller window (Linux's tcp_tso_win_divisor). */
export const deferWindowDivisor = 3;

/** A large segment waits only for an ACK due within this long, ms, and within half an SRTT. */
export const deferAckWithinMs = 1;

/**
 * Whether new data that the windows cut to `room` bytes, less than a large
 * segment's `unit` with more queued behind it, should wait for the next ACK
 * to go as a larger segment (Linux's tcp_tso_should_defer). Sent at once,
 * each ACK of a packet lets one more packet of the same size go; once a
 * recovery has sent its quota in pieces, a window is cut into many small
 * packets for good, and under a loss rate per packet (a router's random
 * drop, a queue that drops whole packets) each of them is as likely lost as
 * a 64 KB one: a bulk sender over GSO sent twice the packets of its
 * loss-free runs, with as many more losses, and twice the ACKs to process.
 * It waits only where the next ACK is near and the wait cheap: outside loss
 * recovery, the room under a {@link deferWindowDivisor}th of the smaller of
 * cwnd and the peer's window, and the ACK of the oldest segment in flight
 * (expected an SRTT after it left; RACK's log knows when, so without RACK
 * nothing waits) due within half an SRTT and within {@link deferAckWithinMs}
 * (as Linux since "tcp: fix tcp_tso_should_defer() vs large RTT": a longer
 * wait costs the ACK clock more than a larger segment saves). Unlike Linux
 * it waits also when the last send is more than a millisecond old: a poller
 * that the machine schedules in slices finds its ACKs late as a rule, and
 * sending on the first of them cut the windows up again. An ACK that does
 * not come is a loss the probe and retransmission timers handle as they
 * would anyway.
 */
export function deferLarge(tcb: Tcb, room: number, now: number): boolean {
  const r = tcb.rack;
  if (r === undefined || tcb.cc.inRecovery || r.rtoRecovery || !tcb.rto.hasSample) return false;
  const wnd = tcb.cc.cwnd < tcb.sndWnd ? tcb.cc.cwnd : tcb.sndWnd;
  if (room * deferWindowDivisor >= wnd) return false;
  const head = r.headSentAt;
  if (head === -Infinity) return false;
  const srtt = tcb.rto.srttMs;
  const wait = srtt / 2 < deferAckWithinMs ? srtt / 2 : deferAckWithinMs;
  return head + srtt - now <= wait;
}

/**
 * PSH for a segment of `len` bytes `at` bytes into the send queue: set when
 * it carries the last byte the application has queued, as BSD does (RFC 9293
 * 3.9.1: the sender pushes what it was given; the receiver gains nothing from
 * a PSH on every segment). Segments inside a run of queued data go without
 * one, which is what lets a receiver's GRO merge them: DPDK's librte_gro
 * takes only segments whose flags are ACK alone, and Linux's ends a merge at
 * a PSH.
 */
export function pushFlag(q: SendQueue, at: number, len: number): number {
  return at + len >= q.bytes ? TcpFlags.psh : 0;
}
