// One end of a TCP exchange over memif in zero-copy: the echo side is memif's
// server in copy mode (started first: it makes the socket); the zero-copy
// side is memif's client with `zero-copy` on hugepages, and opens CONNS
// connections to the echo port, each sending BYTES of its own pattern and
// checking every byte that comes back. So the zero-copy side's frames leave
// from its own pool's buffers (GSO's segments too) and arrive in them.
// The zero-copy side prints `RESULT {...}`: the bytes back and how many were
// wrong, the connections done, its zone's buffers in use once the link was up
// and once every connection had closed, and its TCP and port counters; the
// echo side prints `RESULT {...}` with the bytes it echoed.
// Usage: memif_zero_copy.ts echo|zc PREFIX SOCKET CONNS BYTES
import { type Connection, createStack } from "../../src/mod.ts";

const [role, prefix, socket, connsArg, bytesArg] = process.argv.slice(2);
const conns = Number(connsArg);
const total = Number(bytesArg);
const zc = role === "zc";
const stack = await createStack({
  device: zc ? `memif:${socket},client,zero-copy` : `memif:${socket},server`,
  address: zc ? "198.18.7.2/24" : "198.18.7.1/24",
  coexist: false,
  buffers: 8191,
  tcp: { noDelay: true },
  eal: { prefix, memoryMb: 256, ...(zc ? { hugepages: true } : {}) },
});

/** Byte `i` of connection `k`'s stream. */
const streamByte = (k: number, i: number) => (k * 131 + i * 7 + (i >>> 9)) & 0xff;

let error: string | undefined;
const deadline = setTimeout(() => {
  error ??= "timed out";
  void stack.stop();
}, 60_000);

if (!zc) {
  let echoed = 0;
  const echo = (c: Connection) => {
    const zone = c.zoneBytes;
    for (let len = c.pieceLength; len > 0; len = c.pieceLength) {
      const n = c.write(zone, c.pieceOffset, len);
      if (n === 0) return; // onWritable brings us back
      echoed += n;
      c.consume(n);
    }
  };
  let closed = 0;
  stack.listen(7, () => ({
    onData: echo,
    onWritable: echo,
    onEnd(c: Connection) {
      c.close();
    },
    onClose(_c: Connection, e: string | undefined) {
      if (e !== undefined) error ??= e;
      if (++closed === conns) {
        clearTimeout(deadline);
        setTimeout(() => void stack.stop(), 200);
      }
    },
  }));
  console.log("READY");
  await stack.run();
  console.log("RESULT " + JSON.stringify({ role, echoed, closed, error }));
} else {
  // Buffers in use once the first connection is open: the link is up, and memif's zero-copy
  // client has lent its receive ring's worth of buffers to the server.
  let inUseUp = -1;
  const chunk = new Uint8Array(1 << 16);
  let back = 0;
  let wrong = 0;
  let firstWrong = "";
  let done = 0;
  const sent = new Array<number>(conns).fill(0);
  const got = new Array<number>(conns).fill(0);
  const pump = (k: number) => (c: Connection) => {
    while (sent[k] < total) {
      const n = Math.min(chunk.length, total - sent[k]);
      for (let i = 0; i < n; i++) chunk[i] = streamByte(k, sent[k] + i);
      const w = c.write(chunk, 0, n);
      if (w === 0) return; // onWritable follows
      sent[k] += w;
    }
  };
  for (let k = 0; k < conns; k++) {
    const start = pump(k);
    stack.connect("198.18.7.1", 7, {
      onOpen(c: Connection) {
        if (inUseUp < 0) inUseUp = stack.stats().zone.inUse;
        start(c);
      },
      onWritable: pump(k),
      onData(c: Connection) {
        const zone = c.zoneBytes;
        for (let len = c.pieceLength; len > 0; len = c.pieceLength) {
          const at = c.pieceOffset;
          for (let i = 0; i < len; i++) {
            if (zone[at + i] !== streamByte(k, got[k] + i)) {
              if (wrong++ === 0) firstWrong = `connection ${k}, byte ${got[k] + i}`;
            }
          }
          got[k] += len;
          back += len;
          c.consume(len);
        }
        if (got[k] >= total) c.close();
      },
      onClose(_c: Connection, e: string | undefined) {
        if (e !== undefined) error ??= e;
        if (++done === conns) {
          clearTimeout(deadline);
          setTimeout(() => void stack.stop(), 200);
        }
      },
    });
  }
  await stack.run();
  const s = stack.stats();
  console.log(
    "RESULT " + JSON.stringify({
      role,
      back,
      wrong,
      firstWrong,
      done,
      error,
      inUseUp,
      inUseEnd: s.zone.inUse,
      zone: s.zone,
      tcp: { outLargeSegs: s.tcp.outLargeSegs, retransSegs: s.tcp.retransSegs },
      port: s.port,
    }),
  );
}
// Closing frees the pool with the buffers memif's zero-copy client still holds (its rings').
await stack.close(500);
process.exit(error === undefined ? 0 : 1);
