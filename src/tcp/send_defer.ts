/**
 * Sending once per receive burst rather than once per ACK. A burst often
 * holds several ACKs of one connection; answered one by one, each opens a
 * few MSS of window and sends a large segment of a few MSS, so the device
 * gets many small large segments and the peer many small bursts to
 * coalesce. While a burst is processed, a segment that the window or the
 * congestion window cuts below the device's unit waits for the burst's end,
 * when the connection sends what all of the burst's ACKs opened (Linux
 * defers a TSO segment likewise, tcp_tso_should_defer, bounded there by
 * time and here by the burst). Nothing waits longer than the burst.
 *
 * @module
 */
import type { TcpOutput } from "./output.ts";
import type { Tcb } from "./tcb.ts";

/** The connections whose sending waits for the end of the receive burst. */
export class SendDefer {
  /** Whether a receive burst is being processed: sends cut short may wait for its end. */
  active = false;
  private readonly _list: Tcb[] = [];

  /** `tcb` sends at the end of the burst. */
  add(tcb: Tcb): void {
    if (!tcb.sendDeferred) {
      tcb.sendDeferred = true;
      this._list.push(tcb);
    }
  }

  /** The burst ended: each connection that waited sends what its windows allow now. */
  end(out: TcpOutput, now: number): void {
    this.active = false;
    const list = this._list;
    for (let i = 0; i < list.length; i++) {
      const c = list[i];
      c.sendDeferred = false;
      if (!c.dead) out.output(c, now);
    }
    list.length = 0;
  }
}
