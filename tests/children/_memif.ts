// What the memif peers of the DPDK tests (memif_peer.ts, gso_peer.ts) share:
// waiting for the link, and the one acknowledgement frame a receiver sends.
import type { Dpdk, DpdkZone, Port } from "../../src/device/dpdk/mod.ts";

/** Waits (20 s at most) for the memif link; if it does not come up, says so on a RESULT line and exits. */
export async function awaitLink(port: Port, dpdk: Dpdk): Promise<void> {
  const linkDeadline = Date.now() + 20_000;
  while (!port.link().up && Date.now() < linkDeadline) await new Promise((r) => setTimeout(r, 5));
  if (!port.link().up) {
    console.log("RESULT " + JSON.stringify({ error: "memif link did not come up" }));
    dpdk.close();
    process.exit(1);
  }
}

/**
 * Sends one 60-byte frame whose first word (little-endian) is `ackNumber`,
 * through descriptors `d`, retrying while the ring is full; whether it left.
 */
export function sendAck(port: Port, zone: DpdkZone, d: Uint32Array, ackNumber: number): boolean {
  const h = zone.take();
  zone.bytes.fill(0, zone.dataStart(h) + zone.headroom, zone.dataStart(h) + zone.headroom + 60);
  zone.view.setUint32(zone.dataStart(h) + zone.headroom, ackNumber, true);
  d[0] = h;
  d[1] = zone.headroom | (60 << 16);
  d[2] = 0;
  d[3] = 0;
  let sent = false;
  for (let tries = 0; tries < 100_000 && !sent; tries++) sent = port.tx(0, d, 1) === 1;
  if (!sent) zone.release(h);
  return sent;
}
