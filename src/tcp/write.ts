/**
 * Copying an application's bytes into the send queue: into zone buffers one
 * segment long, behind headroom for the headers, the last one topped up
 * while none of it is sent, within the send buffer, the writers' reserve and
 * the connection's share of the zone (pool_pressure.ts).
 *
 * @module
 */
import { copyRange } from "../util/bytes.ts";
import type { TcpContext } from "./context.ts";
import { effectiveMss } from "./window.ts";
import { State } from "./state.ts";
import type { Tcb } from "./tcb.ts";

/**
 * Copies `length` bytes of `data` from `offset` into `c`'s send queue;
 * returns the bytes taken (fewer when the send buffer, the zone or the
 * connection's share says no). Sends nothing.
 */
export function copyIntoSendQueue(
  x: TcpContext,
  c: Tcb,
  data: Uint8Array,
  offset: number,
  length: number,
): number {
  const zone = x.zone;
  const chunk = Math.min(
    zone.dataRoomSize - zone.headroom,
    c.state >= State.established ? effectiveMss(c) : x.config.mss,
  );
  let done = 0;
  const q = c.sendq;
  // Where TCP will cut what is not sent yet: at SND.NXT and every segment after it (output.ts
  // sends whole segments but for the last). Chunks that end at those cuts each go out as one
  // segment, whole, and the device's checksum of it is the sum taken as it was copied in
  // (hot sums). Once a segment shorter than the MSS goes with more queued behind it (a window's
  // edge), the cuts lie inside the chunks after it: the next chunk filled ends at a cut
  // (`toCut` bytes on, -1 where the chunks are not segment-sized) and those after it line up.
  let toCut = -1;
  if (c.state >= State.established && chunk === effectiveMss(c)) {
    const unsent = q.bytes - ((c.sndNxt - c.sndUna) >>> 0);
    toCut = unsent > 0 ? (chunk - unsent % chunk) % chunk : 0;
  }
  // Top up the last chunk first while nothing of it is sent, so that chunks stay one
  // segment long and go out without a copy.
  if (q.chunks > 0 && length > 0) {
    const unsent = q.bytes - ((c.sndNxt - c.sndUna) >>> 0);
    const tail = q.tailLen();
    if (tail < chunk && unsent >= tail) {
      const room = zone.dataStart(q.tailHandle()) + zone.dataRoomSize - q.tailEnd();
      const n = Math.min(toCut < 0 ? chunk - tail : Math.min(toCut, chunk - tail), length, c.sendSpace, room);
      if (n >= topUpNativeMin) {
        // One native call: a zone that sums payload as it copies it (hot sums) sums these in.
        copyList[0] = q.tailHandle();
        copyList[1] = q.tailEnd();
        copyList[2] = n;
        zone.copyIn(data, offset, copyList, 1);
      } else if (n > 0) copyRange(zone.bytes, q.tailEnd(), data, offset, n);
      if (n > 0) {
        q.extendTail(n);
        done = n;
        if (toCut > 0) toCut -= n;
      }
    }
  }
  // Payload waiting to be sent must not take the buffers that receiving needs (the ACKs
  // that would free it): a sixteenth of the zone stays in reserve (pool_pressure.ts).
  const pool = x.pool;
  const first = toCut > 0 ? Math.min(toCut, length - done) : 0; // a short chunk up to the next cut
  const need = (first > 0 ? 1 : 0) + Math.ceil((length - done - first) / chunk);
  let budget = need > 0 ? pool.writeBudget(need) : 0;
  // And no connection holds more than its share of the zone (pool_pressure.ts): one that
  // is never read from fills its own and waits, the others go on.
  const share = pool.sendShare();
  if (need > 0 && q.chunks < share) q.reserve(Math.min(q.chunks + need, share));
  // The buffers are filled together, a batch of them at a time (zone.copyIn: one native
  // call on a DPDK zone), from `copied` on.
  const list = copyList;
  let copied = done;
  let k = 0;
  while (done < length && c.sendSpace > 0 && q.chunks < share) {
    const n = Math.min(toCut > 0 ? toCut : chunk, length - done, c.sendSpace);
    toCut = 0;
    const h = budget-- > 0 ? zone.tryTake() : -1;
    if (h < 0) {
      // The zone is out of buffers: like a full send buffer, but the buffers may be held by
      // other connections, so poll() says when some are back.
      pool.starve(c);
      break;
    }
    pool.took();
    const off = zone.dataStart(h) + zone.headroom;
    list[3 * k] = h;
    list[3 * k + 1] = off;
    list[3 * k + 2] = n;
    if (++k === copyBatch) {
      zone.copyIn(data, offset + copied, list, k);
      copied = done + n;
      k = 0;
    }
    c.sendq.push(h, off, n);
    done += n;
  }
  if (k > 0) zone.copyIn(data, offset + copied, list, k);
  return done;
}

/**
 * A top-up of the last chunk this long or longer is copied by zone.copyIn
 * (a native call), as the chunks after it are: on a port that computes
 * checksums in software, it is then summed in with the bytes before it,
 * and the segment leaves without its bytes being read again. Shorter ones
 * (small writes) are copied here, which costs less than the call.
 */
const topUpNativeMin = 256;
/** Buffers filled by one zone.copyIn: a 64 KiB write of MSS-sized chunks is one call. */
const copyBatch = 64;
/** (buffer, zone offset, length) of each buffer to fill; one thread's stacks take turns with it. */
const copyList = new Uint32Array(3 * copyBatch);
