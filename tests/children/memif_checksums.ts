// One end of a memif link for the `checksums` setting: an echo server on
// port 7, or a client that connects to it and sends a few bytes. Each end
// runs with the checksums setting given, and reports when its own stack has
// dropped a frame for a bad checksum (`BADCKSUM {...}`) or when the client's
// exchange completed (`ECHOED {...}`), then exits. With BYTES the client
// sends a stream that long, in writes of many sizes (whole segments, odd
// lengths, single bytes that top up a queued segment), and checks that the
// echo is the same bytes (`MISMATCH {...}` where it is not).
// Usage: memif_checksums.ts server|client PREFIX SOCKET auto|always [BYTES]
import { createStack } from "../../src/mod.ts";

const [role, prefix, socket, checksums, bytesArg] = process.argv.slice(2);
const server = role === "server";
const stack = await createStack({
  device: `memif:${socket},${server ? "server" : "client"}`,
  address: server ? "198.18.9.1/24" : "198.18.9.2/24",
  checksums: checksums === "always" ? "always" : "auto",
  coexist: false,
  eal: { prefix, memoryMb: 256 },
});

const badChecksums = () => {
  const m = stack.stats().ip.malformed;
  return (m.ipv4BadChecksum ?? 0) + (m.tcpBadChecksum ?? 0);
};
let finished = false;
const finish = (line: string) => {
  if (finished) return;
  finished = true;
  console.log(line);
  void stack.stop();
};
// Bounded: whatever happens, the child ends.
const deadline = setTimeout(
  () => finish(`TIMEOUT ${JSON.stringify({ badChecksums: badChecksums() })}`),
  30_000,
);
const watch = setInterval(() => {
  const n = badChecksums();
  if (n > 0) finish(`BADCKSUM ${JSON.stringify({ badChecksums: n, inSegs: stack.stats().tcp.inSegs })}`);
}, 20);

if (server) {
  // What a full send buffer left of the last read waits, and nothing more is read, until onWritable.
  const buf = new Uint8Array(4096);
  let from = 0;
  let to = 0;
  const echo = (c: { read(d: Uint8Array): number; write(d: Uint8Array, o?: number, l?: number): number }) => {
    for (let i = 0; i < 100_000; i++) {
      if (from === to) {
        from = 0;
        to = c.read(buf);
        if (to <= 0) {
          to = 0;
          return;
        }
      }
      from += c.write(buf, from, to - from);
      if (from < to) return;
    }
  };
  stack.listen(7, () => ({
    onData: echo,
    onWritable: echo,
    onEnd(c) {
      c.close();
    },
  }));
  console.log("READY");
} else {
  let sent = new TextEncoder().encode("checksums ".repeat(100));
  if (bytesArg !== undefined) {
    sent = new Uint8Array(Number(bytesArg));
    let x = 0x6c756e61;
    for (let i = 0; i < sent.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      sent[i] = x >>> 24;
    }
  }
  // Write sizes in turn: a large write, odd lengths across segment boundaries, bytes one at a time.
  const sizes = [65536, 1, 1, 1447, 3001, 1, 100_003, 17, 1448, 2896, 40_000, 7];
  let put = 0;
  let turn = 0;
  let got = 0;
  const send = (c: { write(d: Uint8Array, o?: number, l?: number): number }) => {
    for (let i = 0; i < 10_000 && put < sent.length; i++) {
      const want = Math.min(sizes[turn % sizes.length], sent.length - put);
      const n = c.write(sent, put, want);
      put += n;
      if (n < want) return; // full: onWritable goes on
      turn++;
    }
  };
  stack.connect("198.18.9.1", 7, {
    onOpen: send,
    onWritable: send,
    onData(c) {
      const buf = new Uint8Array(65536);
      for (let n = c.read(buf); n > 0; n = c.read(buf)) {
        for (let i = 0; i < n; i++) {
          if (buf[i] !== sent[got + i]) {
            finish(`MISMATCH ${JSON.stringify({ at: got + i, badChecksums: badChecksums() })}`);
            return;
          }
        }
        got += n;
      }
      if (got === sent.length) {
        finish(`ECHOED ${JSON.stringify({ bytes: got, badChecksums: badChecksums() })}`);
      } else send(c);
    },
  });
}
await stack.run();
clearTimeout(deadline);
clearInterval(watch);
await stack.close(200);
process.exit(0);
