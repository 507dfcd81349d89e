// A worker's app: echo on port 7 (used by workers_side.ts).
import type { Stack } from "../../src/api/stack.ts";

export default function (stack: Stack): void {
  stack.listen(7, () => ({
    onData(c) {
      for (let v = c.peek(); v.length > 0; v = c.peek()) {
        const n = c.write(v);
        if (n === 0) return; // resumed by onWritable
        c.consume(n);
      }
    },
    onWritable(c) {
      for (let v = c.peek(); v.length > 0; v = c.peek()) {
        const n = c.write(v);
        if (n === 0) return;
        c.consume(n);
      }
    },
    onEnd(c) {
      c.close();
    },
  }));
}
