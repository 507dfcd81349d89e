/**
 * Two memif ports of one process joined through SOCKET, for the GSO children: the client role
 * sends with software segmentation, the server role receives; no checksums (memif's default)
 * unless `checksums` (then both ends compute and verify them in software).
 *
 * @module
 */
import { rmSync } from "node:fs";
import { Offload } from "../../ffi/mod.ts";
import { Dpdk, type DpdkZone, type Port } from "../../src/device/dpdk/mod.ts";

/** The pair, up, and each zone's free count before anything was sent. */
export interface MemifGsoPair {
  dpdk: Dpdk;
  rx: Port;
  rz: DpdkZone;
  tx: Port;
  tz: DpdkZone;
  freeBefore: [number, number];
}

/** Starts the EAL on `prefix`, opens both ends with zones of `count` buffers and waits (10 s at most) for the link. */
export async function memifGsoPair(
  prefix: string,
  socket: string,
  count: number,
  checksums = false,
): Promise<MemifGsoPair> {
  rmSync(socket, { force: true });
  const memif = `socket=${socket},socket-abstract=no`;
  const dpdk = await Dpdk.start({
    prefix,
    vdevs: [`net_memif0,role=server,${memif}`, `net_memif1,role=client,${memif}`],
  });
  const open = (name: string, txOffloads: number): [Port, DpdkZone] => {
    const port = dpdk.port(name);
    const zone = dpdk.createZone(name, { count });
    port.configure({ zone, txOffloads, noChecksums: !checksums });
    port.start();
    return [port, zone];
  };
  const [rx, rz] = open("net_memif0", 0);
  const [tx, tz] = open("net_memif1", Offload.tcpGso);
  for (let i = 0; i < 2000 && !(tx.link().up && rx.link().up); i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  if (!(tx.link().up && rx.link().up)) throw new Error("memif: the link did not come up in 10 s");
  return { dpdk, rx, rz, tx, tz, freeBefore: [tz.accounting().free, rz.accounting().free] };
}
