/**
 * The app each worker of examples/workers.ts runs on its own stack: echo on
 * port 7 (zero-copy reads; the peer's FIN answered with ours).
 *
 * @module
 */
import type { Stack } from "../src/mod.ts";
import type { Connection } from "../src/mod.ts";

function pump(c: Connection): void {
  for (let n = c.pieceLength; n > 0; n = c.pieceLength) {
    const w = c.write(c.zoneBytes, c.pieceOffset, n);
    if (w === 0) return;
    c.consume(w);
  }
}

export default function (stack: Stack): void {
  stack.listen(7, () => ({ onData: pump, onWritable: pump, onEnd: (c) => c.close() }));
}
