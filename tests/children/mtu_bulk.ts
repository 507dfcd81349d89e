// One side of a bulk TCP transfer between two luna-ts stacks over memif, at
// a given MTU: the client sends BYTES of a known stream to the server's
// discard port and closes; the server reads it through zero-copy views and
// closes when the client has. Both sides print `RESULT {...}` with the bytes,
// their SHA-256 (CHECK sha256; "none" leaves it out, for measuring), the MSS
// each side sends with, the port's and stack's counters, and the buffers of
// its zone still in use once the stack closed (0: every one came back).
// Usage: mtu_bulk.ts server|client PREFIX SOCKET MTU|- BYTES CHECK [LCORES|-] [batch|inline]
import { createHash } from "node:crypto";
import { type Connection, createStack } from "../../src/mod.ts";

const [role, prefix, socket, mtuArg, bytesArg, check, lcoresArg, modeArg] = process.argv.slice(2);
const server = role === "server";
const total = Number(bytesArg);
const hash = check === "sha256" ? createHash("sha256") : undefined;
const stack = await createStack({
  device: `memif:${socket},${server ? "server" : "client"}`,
  address: server ? "198.18.9.1/24" : "198.18.9.2/24",
  ...(mtuArg !== "-" ? { mtu: Number(mtuArg) } : {}),
  mode: modeArg === "inline" ? "inline" : "batch",
  coexist: false,
  buffers: 16383,
  // LUNA_GSO=off: MSS-sized segments only, to compare with large ones.
  ...(process.env.LUNA_GSO === "off" ? { tcp: { segmentationOffload: false } } : {}),
  // LUNA_FAULTS: the fault injector's settings (StackConfig.faults), as JSON.
  ...(process.env.LUNA_FAULTS !== undefined ? { faults: JSON.parse(process.env.LUNA_FAULTS) } : {}),
  eal: {
    prefix,
    memoryMb: 512,
    ...(lcoresArg !== undefined && lcoresArg !== "-" ? { lcores: lcoresArg } : {}),
  },
});

let bytes = 0;
let sndMss = 0;
let error: string | undefined;
/** Through faults (LUNA_FAULTS): how the server's connection ended after every byte had arrived. */
let teardownError: string | undefined;
const faulty = process.env.LUNA_FAULTS !== undefined;
let done = false;
let t0 = 0;
let t1 = 0;

function finish(): void {
  const s = stack.stats();
  console.log(
    "RESULT " + JSON.stringify({
      role,
      bytes,
      sha256: hash?.digest("hex"),
      sndMss,
      error,
      seconds: (t1 - t0) / 1000,
      gbps: (bytes * 8) / ((t1 - t0) / 1000) / 1e9,
      mtu: stack.device.mtu,
      closeError,
      teardownError,
      zoneInUse: s.zone.inUse,
      port: s.port,
      tcp: { inSegs: s.tcp.inSegs, outSegs: s.tcp.outSegs, retransSegs: s.tcp.retransSegs },
    }),
  );
}

if (server) {
  stack.listen(9, () => {
    t0 = performance.now();
    return {
      onData(c: Connection) {
        for (let v = c.peek(); v.length > 0; v = c.peek()) {
          hash?.update(v);
          bytes += v.length;
          c.consume(v.length);
        }
      },
      onEnd(c: Connection) {
        t1 = performance.now();
        sndMss = c.tcb.sndMss;
        done = true;
        c.close();
        // Everything arrived: the client's last ACK may still be lost as its memif goes away.
        setTimeout(() => void stack.stop(), 2000);
      },
      onClose(_c: Connection, e: string | undefined) {
        // Through faults the last FIN or ACK may be lost after the client has gone: the stop
        // aborts a connection whose bytes all arrived.
        if (faulty && done) teardownError = e;
        else error = e;
        void stack.stop();
      },
    };
  });
  console.log("READY");
  await stack.run();
} else {
  // The stream: a 1 MiB + 7 block of pseudo-random bytes, over and over (its
  // odd length keeps repetitions off segment boundaries).
  const block = new Uint8Array((1 << 20) + 7);
  let x = 0x9e3779b9;
  for (let i = 0; i < block.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    block[i] = x & 0xff;
  }
  let sent = 0;
  const pump = (c: Connection) => {
    while (sent < total) {
      const at = sent % block.length;
      const n = c.write(block.subarray(at, Math.min(block.length, at + total - sent)));
      if (n === 0) return; // onWritable follows
      hash?.update(block.subarray(at, at + n));
      sent += n;
    }
    if (bytes === 0) {
      bytes = sent;
      c.close();
    }
  };
  const deadline = setTimeout(() => {
    error = "timed out";
    void stack.stop();
  }, 100_000);
  stack.connect("198.18.9.1", 9, {
    onOpen(c) {
      t0 = performance.now();
      sndMss = c.tcb.sndMss;
      pump(c);
    },
    onWritable: pump,
    onClose(_c, e) {
      t1 = performance.now();
      error = e;
      done = true;
      clearTimeout(deadline);
      // A moment for the server to read our last ACK before our memif goes away (through
      // faults, for a retransmitted FIN to get its ACK too).
      setTimeout(() => void stack.stop(), faulty ? 1000 : 200);
    },
  });
  await stack.run();
}
if (!done && error === undefined) error = "stopped before the connection closed";
// Closed first: the zone's count at the end (every buffer back) is part of the result.
let closeError: string | undefined;
try {
  await stack.close(500);
} catch (e) {
  closeError = (e as Error).message;
}
finish();
process.exit(error === undefined && closeError === undefined ? 0 : 1);
