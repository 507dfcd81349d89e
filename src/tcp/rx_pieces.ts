/**
 * A received segment's payload as the pieces it lies in: the rest of its
 * first buffer, then, for a chained segment (coalesced by the device, or a
 * frame longer than one buffer), each further link. TCP takes a chained
 * segment as one segment (one pass through segment arrival); only where the
 * bytes go, to the receive queue or to reassembly, does it see the pieces:
 * each becomes a zero-copy chunk of its own buffer, so a link the range
 * does not reach is left to the IP layer to release.
 *
 * @module
 */
import type { RecvQueue } from "./recv_queue.ts";
import { type Reassembly, ReassemblyResult } from "./reassembly.ts";
import type { Segment } from "./segment.ts";

/**
 * Queues payload bytes `[seq, seq + len)` of `seg` (`seq` at or after
 * SEG.SEQ, within its payload) on `q`, each piece as a chunk of its buffer.
 * Returns whether the segment's first buffer was kept; the chain's links
 * kept are marked taken.
 */
export function queuePayload(q: RecvQueue, seg: Segment, seq: number, len: number): boolean {
  let rel = (seq - seg.seq) >>> 0;
  let kept = false;
  // A coalesced segment is up to 45 links: room for all of them at once, not in doublings.
  if (seg.chain !== null) q.reserve(q.chunks + seg.chain.count + 1);
  if (rel < seg.headLen || seg.chain === null) {
    const k = len < seg.headLen - rel ? len : seg.headLen - rel;
    q.push(seg.h, seg.payloadOff + rel, k);
    kept = true;
    rel += k;
    len -= k;
  }
  const c = seg.chain;
  if (c === null) return kept;
  for (let i = 0, start = seg.headLen; i < c.count && len > 0; i++) {
    const end = start + c.length(i);
    if (rel < end) {
      const k = len < end - rel ? len : end - rel;
      q.push(c.handle(i), c.offset(i) + (rel - start), k);
      c.take(i);
      rel += k;
      len -= k;
    }
    start = end;
  }
  return kept;
}

/** What {@link insertPayload} did, as bits. */
export const Inserted = {
  /** The segment's first buffer is the reassembly queue's now. */
  headKept: 1,
  /** Some piece was stored. */
  stored: 2,
  /** Some piece was held already (a duplicate: D-SACK). */
  duplicate: 4,
  /** Some piece was over the reassembly limits, and dropped. */
  refused: 8,
} as const;

/**
 * Hands payload bytes `[seq, seq + len)` of `seg` to the out-of-order queue
 * `r`, piece by piece. Returns {@link Inserted} bits; the chain's links
 * stored are marked taken.
 */
export function insertPayload(r: Reassembly, seg: Segment, seq: number, len: number): number {
  let out = 0;
  let rel = (seq - seg.seq) >>> 0;
  if (rel < seg.headLen || seg.chain === null) {
    const k = len < seg.headLen - rel ? len : seg.headLen - rel;
    out |= bits(r.insert((seg.seq + rel) >>> 0, k, seg.h, seg.payloadOff + rel));
    if ((out & Inserted.stored) !== 0) out |= Inserted.headKept;
    rel += k;
    len -= k;
  }
  const c = seg.chain;
  if (c === null) return out;
  for (let i = 0, start = seg.headLen; i < c.count && len > 0; i++) {
    const end = start + c.length(i);
    if (rel < end) {
      const k = len < end - rel ? len : end - rel;
      const b = bits(r.insert((seg.seq + rel) >>> 0, k, c.handle(i), c.offset(i) + (rel - start)));
      if ((b & Inserted.stored) !== 0) c.take(i);
      out |= b;
      rel += k;
      len -= k;
    }
    start = end;
  }
  return out;
}

function bits(r: ReassemblyResult): number {
  return r === ReassemblyResult.stored
    ? Inserted.stored
    : r === ReassemblyResult.duplicate
    ? Inserted.duplicate
    : Inserted.refused;
}

/**
 * Received segments a segment stands for, for the ACK rule: a chained one
 * counts each link, as each was at most one segment on the wire.
 */
export function segmentsIn(seg: Segment): number {
  return seg.chain === null ? 1 : seg.chain.count + 1;
}
