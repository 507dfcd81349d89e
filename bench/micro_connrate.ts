/**
 * Micro-benchmark: what a short connection costs (the bench's connrate:
 * connect, one 64-byte exchange, the client closes, the server closes on
 * the client's end), between two stacks on the in-memory link in one
 * process, batch-r2c against inline-r2c: CPU time per connection (both
 * stacks together), and per connection each side's transmit calls, frames
 * and frames without payload, and the loop iterations. The counts do not
 * depend on the machine's load; the CPU figure does, somewhat.
 *
 * ```sh
 * node_modules/.bin/bun bench/micro_connrate.ts [--conns 16] [--connections 8000] [--rounds 3] [--modes batch,inline] [--recycle]
 * node_modules/.bin/deno run -A bench/micro_connrate.ts ...
 * ```
 *
 * `--conns` connections are open at a time; each run opens `--connections`
 * after 2000 unmeasured ones (at most 14000: the client's ephemeral ports,
 * each left in TIME-WAIT, last the run). A pass of each mode runs first,
 * unmeasured, for the JIT. Rounds alternate the modes, each in a stack pair
 * of its own in this process; figures are the medians of the rounds. In one
 * process the mode that runs first shapes what the JIT compiles for the code
 * the two share (see bench/micro_echo.ts): `--modes` with one mode, a
 * process per mode, is the cleaner comparison. `--recycle`: both sides give
 * each connection back from onClose (Connection._recycle, as `luna serve`'s
 * http app does), so that its control block serves a later connection.
 *
 * @module
 */
import process from "node:process";
import {
  type Connection,
  type ConnectionHandlers,
  createHeapZone,
  createMemoryLink,
  createStack,
} from "../src/mod.ts";
import { CountingDevice } from "../tests/counting_device.ts";
import { flagValue as arg } from "./_control.ts";

const conns = Number(arg("conns", "16"));
const connections = Number(arg("connections", "8000"));
const rounds = Number(arg("rounds", "3"));
const modes = arg("modes", "batch,inline").split(",") as ("batch" | "inline")[];
const recycle = process.argv.includes("--recycle");
const warm = 2000;
for (const m of modes) {
  if (m !== "batch" && m !== "inline") throw new Error(`--modes: batch or inline, got ${m}`);
}

interface Figures {
  cpuUs: number;
  serverTx: number;
  serverFrames: number;
  serverEmpty: number;
  clientTx: number;
  clientFrames: number;
  clientEmpty: number;
  polls: number;
}

async function once(mode: "batch" | "inline"): Promise<Figures> {
  const [la, lb] = createMemoryLink({
    zone: createHeapZone({ name: "a", count: 4096 }),
    zoneB: createHeapZone({ name: "b", count: 4096 }),
  });
  const ds = new CountingDevice(la);
  const dc = new CountingDevice(lb);
  const server = await createStack({ device: ds, address: "198.18.0.1/24", mode, mac: "02:00:00:00:00:01" });
  const client = await createStack({ device: dc, address: "198.18.0.2/24", mode, mac: "02:00:00:00:00:02" });
  server.listen(7, () => ({
    onData(c: Connection) {
      const zone = c.zoneBytes;
      for (let len = c.pieceLength; len > 0; len = c.pieceLength) {
        const n = c.write(zone, c.pieceOffset, len);
        if (n === 0) return;
        c.consume(n);
      }
    },
    onEnd: (c: Connection) => c.close(),
    onClose: (c: Connection) => {
      if (recycle) c._recycle();
    },
  }));
  const request = new Uint8Array(64).fill(0x5a);
  let done = 0;
  let started = 0;
  let failed = 0;
  const total = warm + connections;
  const got = new Map<Connection, number>();
  const handlers: ConnectionHandlers = {
    onOpen(c) {
      c.write(request);
    },
    onData(c) {
      let n = got.get(c) ?? 0;
      for (let len = c.pieceLength; len > 0; len = c.pieceLength) {
        n += len;
        c.consume(len);
      }
      got.set(c, n);
      if (n >= 64) {
        got.delete(c);
        c.close();
        done++;
        start();
      }
    },
    onClose(c, error) {
      if (error !== undefined) failed++;
      if (recycle) c._recycle();
    },
  };
  const start = () => {
    if (started >= total) return;
    started++;
    client.connect("198.18.0.1", 7, handlers);
  };
  for (let i = 0; i < conns; i++) start();
  const poll = (until: () => boolean) => {
    for (let i = 0; !until() && i < 100_000_000; i++) {
      server.poll();
      client.poll();
    }
    if (!until()) throw new Error(`${mode}: the loop ran out at ${done} connections`);
  };
  poll(() => done >= warm);
  const d0 = done;
  const s0 = { tx: ds.calls, frames: ds.frames, empty: ds.empty };
  const c0 = { tx: dc.calls, frames: dc.frames, empty: dc.empty };
  const it0 = server.loop.iterations + client.loop.iterations;
  const cpu0 = process.cpuUsage();
  poll(() => done >= total);
  const cpu = process.cpuUsage(cpu0);
  const n = done - d0;
  if (failed > 0) throw new Error(`${mode}: ${failed} connections failed`);
  const f = {
    cpuUs: (cpu.user + cpu.system) / n,
    serverTx: (ds.calls - s0.tx) / n,
    serverFrames: (ds.frames - s0.frames) / n,
    serverEmpty: (ds.empty - s0.empty) / n,
    clientTx: (dc.calls - c0.tx) / n,
    clientFrames: (dc.frames - c0.frames) / n,
    clientEmpty: (dc.empty - c0.empty) / n,
    polls: (server.loop.iterations + client.loop.iterations - it0) / n,
  };
  await Promise.all([client.close(), server.close()]);
  return f;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const results = new Map<string, Figures[]>();
// One unmeasured pass of each mode first: a fresh process spends its first connections in the JIT.
for (const mode of modes) await once(mode);
for (let r = 0; r < rounds; r++) {
  for (const mode of r % 2 === 0 ? modes : [...modes].reverse()) {
    const f = await once(mode);
    if (!results.has(mode)) results.set(mode, []);
    results.get(mode)!.push(f);
  }
}
console.log(
  `micro_connrate: memory link, ${conns} connections at a time, ${connections} per figure, medians of ${rounds} rounds${
    recycle ? ", connections given back (--recycle)" : ""
  }`,
);
console.log("mode    cpu µs/conn  server tx  frames  no-payload  client tx  frames  no-payload  polls/conn");
for (const mode of modes) {
  const fs = results.get(mode)!;
  const m = (k: keyof Figures, d = 3) => median(fs.map((f) => f[k])).toFixed(d);
  console.log(
    `${mode.padEnd(7)} ${m("cpuUs", 2).padStart(11)} ${m("serverTx").padStart(10)} ${
      m("serverFrames").padStart(7)
    } ${m("serverEmpty").padStart(11)} ${m("clientTx").padStart(10)} ${m("clientFrames").padStart(7)} ${
      m("clientEmpty").padStart(11)
    } ${m("polls").padStart(11)}`,
  );
}
process.exit(0);
