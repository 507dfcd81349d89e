// Storage-RPC answers over memif: both roles of one memif socket in this
// process, each port with its own zone, GSO on transmit and the shim's GRO
// on receive (as the bench runs them). One connection asks ANSWERS times
// with 64 bytes and the server answers each with ANSWER_BYTES (each answer's
// bytes its own). The client's device is watched: for each received packet
// with TCP payload, its links and whether its TCP header carries PSH.
// Prints `RESULT {...}`: the answers, whether every byte was as sent, the
// packets by links, PSH on packets that end an answer and on those that do
// not, and the client's TCP counters.
// Usage: memif_answers.ts PREFIX SOCKET ANSWERS ANSWER_BYTES
import { rmSync } from "node:fs";
import { Offload } from "../../ffi/symbols.ts";
import { type Connection, createStack } from "../../src/mod.ts";
import { Dpdk } from "../../src/device/dpdk/mod.ts";
import { DpdkDevice } from "../../src/device/dpdk/device.ts";
import { DESC_WORDS, RxFlag } from "../../src/device/device.ts";
import { TcpFlags } from "../../src/wire/mod.ts";
import { WrappedDevice } from "../wrapped_device.ts";

const [prefix, socket, answersArg, bytesArg] = process.argv.slice(2);
const answers = Number(answersArg);
const answerBytes = Number(bytesArg);

/** Byte `i` of answer `k`. */
const answerByte = (k: number, i: number) => (k * 31 + i * 7 + (i >> 8)) & 0xff;

/** A device that notes, for each received packet with TCP payload, its links and its PSH. */
class Watch extends WrappedDevice {
  /** Packets with payload, by their number of links. */
  readonly byLinks: Record<number, number> = {};
  /** Packets whose payload ends an answer, with and without PSH; packets that end none, with PSH. */
  pshAtEnd = 0;
  noPshAtEnd = 0;
  pshInside = 0;
  /** The sequence number of the first payload byte seen: answers follow on from it. */
  #base = -1;
  override rx(descs: Uint32Array, max: number, now: number): number {
    const n = this.inner.rx(descs, max, now);
    const z = this.inner.zone;
    for (let i = 0; i < n;) {
      const w = descs[i * DESC_WORDS + 1];
      const at = z.dataStart(descs[i * DESC_WORDS]) + (w & 0xffff);
      let payload = (w >>> 16) - 34 - (z.bytes[at + 46] >> 4) * 4;
      let links = 1;
      while ((descs[(i + links - 1) * DESC_WORDS + 2] & RxFlag.more) !== 0) {
        payload += descs[(i + links) * DESC_WORDS + 1] >>> 16;
        links++;
      }
      i += links;
      if (z.view.getUint16(at + 12) !== 0x0800 || z.bytes[at + 23] !== 6 || payload <= 0) continue;
      this.byLinks[links] = (this.byLinks[links] ?? 0) + 1;
      const seq = z.view.getUint32(at + 38);
      if (this.#base < 0) this.#base = seq;
      const ends = ((seq + payload - this.#base) >>> 0) % answerBytes === 0;
      const psh = (z.bytes[at + 47] & TcpFlags.psh) !== 0;
      if (ends && psh) this.pshAtEnd++;
      else if (ends) this.noPshAtEnd++;
      else if (psh) this.pshInside++;
    }
    return n;
  }
}

rmSync(socket, { force: true });
const memif = `socket=${socket},socket-abstract=no`;
const dpdk = await Dpdk.start({
  prefix,
  memoryMb: 512,
  vdevs: [`net_memif0,role=server,${memif}`, `net_memif1,role=client,${memif}`],
});
const open = (name: string): DpdkDevice => {
  const port = dpdk.port(name);
  const txOffloads = port.describe().txOffloads & Offload.tcpGso;
  port.configure({
    zone: dpdk.createZone(name, { count: 4095 }),
    txOffloads,
    noChecksums: true,
    softwareCoalescing: true,
  });
  port.start();
  return new DpdkDevice(port, 0, txOffloads);
};
const devServer = open("net_memif0");
const devClient = new Watch(open("net_memif1"));
const [pa, pb] = [dpdk.port("net_memif0"), dpdk.port("net_memif1")];
for (let i = 0; i < 500 && !(pa.link().up && pb.link().up); i++) await new Promise((r) => setTimeout(r, 10));
if (!(pa.link().up && pb.link().up)) throw new Error("memif: the link did not come up in 5 s");

const server = await createStack({ device: devServer, address: "198.18.0.1/24", mac: "02:00:00:00:00:01" });
const client = await createStack({ device: devClient, address: "198.18.0.2/24", mac: "02:00:00:00:00:02" });
let served = 0;
server.listen(7, (c) => {
  c.setNoDelay(true);
  return {
    onData(c: Connection) {
      for (let n = c.pieceLength; n > 0; n = c.pieceLength) {
        c.consume(n);
        const a = Uint8Array.from({ length: answerBytes }, (_, i) => answerByte(served, i));
        served++;
        if (c.write(a) !== answerBytes) throw new Error("the answer did not fit the send buffer");
      }
    },
  };
});
const request = new Uint8Array(64).fill(7);
let got = 0;
let done = 0;
let bytesOk = true;
client.connect("198.18.0.1", 7, {
  onOpen(c) {
    c.setNoDelay(true);
    c.write(request);
  },
  onData(c) {
    const z = c.zoneBytes;
    for (let n = c.pieceLength; n > 0; n = c.pieceLength) {
      const o = c.pieceOffset;
      for (let i = 0; i < n; i++) {
        if (z[o + i] !== answerByte(done, got + i)) bytesOk = false;
      }
      got += n;
      c.consume(n);
      if (got === answerBytes) {
        got = 0;
        if (++done < answers) c.write(request);
      }
    }
  },
});
const deadline = Date.now() + 30_000;
while (done < answers && Date.now() < deadline) {
  server.poll();
  client.poll();
}
console.log(
  "RESULT " + JSON.stringify({
    answers: done,
    bytesOk,
    byLinks: devClient.byLinks,
    pshAtEnd: devClient.pshAtEnd,
    noPshAtEnd: devClient.noPshAtEnd,
    pshInside: devClient.pshInside,
    tcp: {
      inSegs: client.tcp.counters.inSegs,
      inChainedSegs: client.tcp.counters.inChainedSegs,
      inChainedLinks: client.tcp.counters.inChainedLinks,
    },
  }),
);
await Promise.all([client.close(), server.close()]);
dpdk.close();
rmSync(socket, { force: true });
