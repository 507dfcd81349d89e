// One end of a memif link for the `checksums` setting: an echo server on
// port 7, or a client that connects to it and sends a few bytes. Each end
// runs with the checksums setting given, and reports when its own stack has
// dropped a frame for a bad checksum (`BADCKSUM {...}`) or when the client's
// exchange completed (`ECHOED {...}`), then exits.
// Usage: memif_checksums.ts server|client PREFIX SOCKET auto|always
import { createStack } from "../../src/mod.ts";

const [role, prefix, socket, checksums] = process.argv.slice(2);
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
  stack.listen(7, () => ({
    onData(c) {
      const buf = new Uint8Array(4096);
      for (let n = c.read(buf); n > 0; n = c.read(buf)) c.write(buf.subarray(0, n));
    },
    onEnd(c) {
      c.close();
    },
  }));
  console.log("READY");
} else {
  const sent = new TextEncoder().encode("checksums ".repeat(100));
  let got = 0;
  stack.connect("198.18.9.1", 7, {
    onOpen(c) {
      c.write(sent);
    },
    onData(c) {
      const buf = new Uint8Array(4096);
      for (let n = c.read(buf); n > 0; n = c.read(buf)) got += n;
      if (got === sent.length) {
        finish(`ECHOED ${JSON.stringify({ bytes: got, badChecksums: badChecksums() })}`);
      }
    },
  });
}
await stack.run();
clearTimeout(deadline);
clearInterval(watch);
await stack.close(200);
process.exit(0);
