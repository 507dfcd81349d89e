// One side of a DCTCP transfer over memif whose sender marks CE at random
// on its way out (the fault injector, transmit side only): the client sends
// BYTES to the server's discard port and closes; the server (receive
// coalescing on, as by default over memif) reads them and closes when the
// client has. Both print `RESULT {...}` with the bytes, the port's and TCP's
// counters, and (client) the injector's transmit counters.
// Usage: ecn_memif.ts server|client PREFIX SOCKET BYTES CE_PROBABILITY
import { type Connection, createStack, type FaultInjector } from "../../src/mod.ts";

const [role, prefix, socket, bytesArg, ceArg] = process.argv.slice(2);
const server = role === "server";
const total = Number(bytesArg);
const stack = await createStack({
  device: `memif:${socket},${server ? "server" : "client"}`,
  address: server ? "198.18.9.1/24" : "198.18.9.2/24",
  coexist: false,
  buffers: 8191,
  tcp: { congestion: "dctcp", ecn: "on" },
  ...(server ? {} : { faults: { seed: 8257, direction: "tx" as const, ceMark: Number(ceArg) } }),
  eal: { prefix, memoryMb: 512 },
});

let bytes = 0;
let error: string | undefined;
let done = false;
const chunk = new Uint8Array(1 << 16).fill(0x42);

if (server) {
  stack.listen(9, () => ({
    onData(c: Connection) {
      for (let n = c.pieceLength; n > 0; n = c.pieceLength) {
        bytes += n;
        c.consume(n);
      }
    },
    onEnd(c: Connection) {
      done = true;
      c.close();
      // Everything arrived: the client's last ACK may still be lost as its memif goes away.
      setTimeout(() => void stack.stop(), 1000);
    },
    onClose(_c: Connection, e: string | undefined) {
      error = e;
      void stack.stop();
    },
  }));
  console.log("READY");
} else {
  const pump = (c: Connection) => {
    while (bytes < total) {
      const n = c.write(chunk, 0, Math.min(chunk.length, total - bytes));
      if (n === 0) return; // onWritable follows
      bytes += n;
    }
    c.close();
  };
  const deadline = setTimeout(() => {
    error = "timed out";
    void stack.stop();
  }, 60_000);
  stack.connect("198.18.9.1", 9, {
    onOpen: pump,
    onWritable: pump,
    onClose(_c, e) {
      error = e;
      done = true;
      clearTimeout(deadline);
      setTimeout(() => void stack.stop(), 200);
    },
  });
}
await stack.run();
if (!done && error === undefined) error = "stopped before the connection closed";
const s = stack.stats();
const faults = server ? undefined : (stack.device as FaultInjector).txCounters;
console.log(
  "RESULT " + JSON.stringify({
    role,
    bytes,
    error,
    port: s.port,
    tcp: {
      ceMarksIn: s.tcp.ceMarksIn,
      eceIn: s.tcp.eceIn,
      ecnConnections: s.tcp.ecnConnections,
      retransSegs: s.tcp.retransSegs,
    },
    ceMarked: faults?.ceMarked,
  }),
);
await stack.close(500);
process.exit(error === undefined ? 0 : 1);
