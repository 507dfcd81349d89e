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
  // Top up the last chunk first while nothing of it is sent, so that chunks stay one
  // segment long and go out without a copy.
  const q = c.sendq;
  if (q.chunks > 0 && length > 0) {
    const unsent = q.bytes - ((c.sndNxt - c.sndUna) >>> 0);
    const tail = q.tailLen();
    if (tail < chunk && unsent >= tail) {
      const room = zone.dataStart(q.tailHandle()) + zone.dataRoomSize - q.tailEnd();
      const n = Math.min(chunk - tail, length, c.sendSpace, room);
      if (n > 0) {
        copyRange(zone.bytes, q.tailEnd(), data, offset, n);
        q.extendTail(n);
        done = n;
      }
    }
  }
  // Payload waiting to be sent must not take the buffers that receiving needs (the ACKs
  // that would free it): a sixteenth of the zone stays in reserve (pool_pressure.ts).
  const pool = x.pool;
  const need = Math.ceil((length - done) / chunk);
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
    const n = Math.min(chunk, length - done, c.sendSpace);
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

/** Buffers filled by one zone.copyIn: a 64 KiB write of MSS-sized chunks is one call. */
const copyBatch = 64;
/** (buffer, zone offset, length) of each buffer to fill; one thread's stacks take turns with it. */
const copyList = new Uint32Array(3 * copyBatch);
