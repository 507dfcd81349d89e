// A worker's app: opens connections to the echo server, sends seeded bytes on
// each, checks every byte that comes back, and reports. With `abortAfter`,
// the worker instead aborts its connections once they are flowing.
import type { Connection } from "../../src/api/connection.ts";
import type { Stack } from "../../src/api/stack.ts";
import type { WorkerContext } from "../../src/workers/mod.ts";

interface Args {
  conns: number;
  bytes: number;
  /** Index of the worker whose connections are aborted midway, or -1. */
  abortWorker: number;
}

const byteAt = (worker: number, conn: number, i: number) => (i * 31 + conn * 7 + worker * 101) & 0xff;

export default function (stack: Stack, w: WorkerContext): void {
  const { conns, bytes, abortWorker } = w.args as Args;
  let verified = 0;
  let failed = 0;
  let aborted = 0;
  let finished = 0;
  const abortMe = w.index === abortWorker;
  const done = () => {
    if (++finished === conns) w.report({ index: w.index, verified, failed, aborted, local: stack.ip.iface.toString() });
  };
  for (let k = 0; k < conns; k++) {
    const out = new Uint8Array(bytes);
    for (let i = 0; i < bytes; i++) out[i] = byteAt(w.index, k, i);
    let sent = 0;
    let got = 0;
    let bad = false;
    let settled = false;
    const settle = (ok: boolean, wasAborted = false) => {
      if (settled) return;
      settled = true;
      if (wasAborted) aborted++;
      else if (ok) verified++;
      else failed++;
      done();
    };
    const pump = (c: Connection) => {
      while (sent < bytes) {
        const n = c.write(out.subarray(sent));
        if (n === 0) return;
        sent += n;
      }
      c.close();
    };
    stack.connect("198.18.0.2", 7, {
      onOpen: pump,
      onWritable: pump,
      onData(c) {
        for (let v = c.peek(); v.length > 0; v = c.peek()) {
          for (let i = 0; i < v.length; i++) if (v[i] !== byteAt(w.index, k, got + i)) bad = true;
          got += v.length;
          c.consume(v.length);
        }
        if (abortMe && got > bytes / 4) {
          c.abort();
          settle(false, true);
        }
      },
      onClose(_c, error) {
        settle(error === undefined && got === bytes && !bad);
      },
    });
  }
}
