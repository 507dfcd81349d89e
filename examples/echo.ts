/**
 * Echo (RFC 862) on port 7 with zero-copy reads, in either loop mode: what
 * arrives is written back from where it lies in the packet buffers (no view
 * object, no copy into the application), and the peer's FIN is answered with
 * ours. `--mode inline` runs the handlers inside the receive path (the answer
 * leaves in the same burst); `--mode batch` after each burst.
 *
 * Run (as root, on a veth or NIC the kernel has no address on):
 *   bun examples/echo.ts --device af_packet:veth0 --address 198.18.0.2/24 --mode inline
 * then from the peer: `nc 198.18.0.2 7`.
 *
 * @module
 */
import type { Connection } from "../src/mod.ts";
import { exampleArgs, exampleStack, runUntilSignal } from "./_example.ts";

const a = exampleArgs("echo.ts --device SPEC --address CIDR [--mode batch|inline] [--port 7]");
const stack = await exampleStack(a);
const port = Number(a.port ?? 7);

function pump(c: Connection): void {
  for (let n = c.pieceLength; n > 0; n = c.pieceLength) {
    const w = c.write(c.zoneBytes, c.pieceOffset, n);
    if (w === 0) return; // the send buffer is full: onWritable calls again
    c.consume(w);
  }
}

stack.listen(port, () => ({
  onData: pump,
  onWritable: pump,
  onEnd: (c) => c.close(),
}));
console.log(`READY echo on ${a.address ?? "the kernel's address"}:${port} (${stack.mode})`);
await runUntilSignal(stack);
