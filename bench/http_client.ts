// The luna-ts client of the httpget workload (bench/http_get.ts): one stack
// on one device, polled by this process (yielding every 20 ms), keeping
// `conns` connections each in a closed loop of `GET PATH HTTP/1.1` with
// keep-alive. The answer's length is learned from a first exchange (head to
// the empty line, then Content-Length; 200 required) and every answer must
// have it (the Date field keeps its length) and end with its last byte.
// Commands on stdin:
//   run {"port":80,"conns":16,"warmupS":0.5,"measureS":2[,"path":"/hello"]}   prints RESULT {...} or FAIL {...}
//   quit
// Usage: http_client.ts CONFIG (the JSON of bench/tcp.ts memifEnd, client side)
import { type Connection, type ConnectionHandlers, createStack } from "../src/mod.ts";
import { type BenchEnd, benchStackConfig, onLines, report } from "./_control.ts";
import { LatencyHistogram } from "./_stats.ts";

const cfg = JSON.parse(process.argv[2]) as BenchEnd & { server: string; lifetimeS: number };
const stack = await createStack(
  benchStackConfig(cfg, { noDelay: true, timeWaitMs: 200, ephemeralPortMin: 1024, ephemeralPortMax: 65535 }),
);
const yieldNow = () => new Promise((r) => setImmediate(r));

async function pollFor(ms: number, done: () => boolean = () => false): Promise<boolean> {
  const end = performance.now() + ms;
  let nextYield = performance.now() + 20;
  for (;;) {
    if (done()) return true;
    stack.poll();
    const now = performance.now();
    if (now >= end) return done();
    if (now >= nextYield) {
      await yieldNow();
      nextYield = performance.now() + 20;
    }
  }
}

/** The length of the first whole answer in `text`, or -1; throws on a status other than 200. */
function answerLength(text: string): number {
  const eoh = text.indexOf("\r\n\r\n");
  if (eoh < 0) return -1;
  if (!text.startsWith("HTTP/1.1 200 ")) throw new Error(`answer: ${text.slice(0, 80)}`);
  const m = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, eoh));
  if (m === null) throw new Error("answer without Content-Length");
  const total = eoh + 4 + Number(m[1]);
  return text.length >= total ? total : -1;
}

async function run(p: { port: number; conns: number; warmupS: number; measureS: number; path?: string }) {
  const { conns, port } = p;
  const request = new TextEncoder().encode(`GET ${p.path ?? "/hello"} HTTP/1.1\r\nHost: bench\r\n\r\n`);
  const latency = new LatencyHistogram();
  const sentAt = new Float64Array(conns);
  const got = new Int32Array(conns);
  let expect = -1;
  let last = 0;
  let probe: string | undefined = "";
  let measuring = false;
  let sending = true;
  let outstanding = 0;
  let opened = 0;
  let closed = 0;
  let errors = 0;
  let closeErrors = "";
  const send = (c: Connection, i: number, now: number) => {
    sentAt[i] = now;
    got[i] = 0;
    outstanding++;
    if (c.write(request) !== request.length) errors++;
  };
  const handlers: ConnectionHandlers = {
    onOpen: () => void opened++,
    onData(c) {
      const i = c.data as number;
      const v = c.zoneBytes;
      if (probe !== undefined) {
        for (let len = c.pieceLength; len > 0; len = c.pieceLength) {
          for (let k = 0; k < len; k++) probe += String.fromCharCode(v[c.pieceOffset + k]);
          c.consume(len);
        }
        return;
      }
      for (let len = c.pieceLength; len > 0; len = c.pieceLength) {
        if (got[i] + len === expect && v[c.pieceOffset + len - 1] !== last) errors++;
        got[i] += len;
        c.consume(len);
      }
      if (got[i] >= expect) {
        if (got[i] > expect) errors++;
        const now = performance.now();
        outstanding--;
        if (measuring) latency.record((now - sentAt[i]) * 1e6);
        if (sending) send(c, i, now);
      }
    },
    onClose(_c, error) {
      closed++;
      if (error !== undefined) closeErrors = error;
    },
  };
  const list: Connection[] = [];
  for (let i = 0; i < conns; i++) {
    const c = stack.connect(cfg.server, port, handlers);
    c.data = i;
    list.push(c);
  }
  if (!await pollFor(10_000, () => opened === conns)) {
    throw new Error(`${opened} of ${conns} connections opened`);
  }
  list[0].write(request);
  if (!await pollFor(5000, () => answerLength(probe!) > 0)) {
    throw new Error(`no whole answer: ${probe!.slice(0, 200)}`);
  }
  expect = answerLength(probe!);
  last = probe!.charCodeAt(expect - 1);
  probe = undefined;
  const now = performance.now();
  for (let i = 0; i < conns; i++) send(list[i], i, now);
  await pollFor(p.warmupS * 1000);
  latency.reset();
  measuring = true;
  const t0 = performance.now();
  await pollFor(p.measureS * 1000);
  measuring = false;
  const t1 = performance.now();
  const requests = latency.n;
  sending = false;
  const drained = await pollFor(2000, () => outstanding === 0);
  for (const c of list) c.close();
  const allClosed = await pollFor(5000, () => closed === conns);
  return {
    workload: "http",
    conns,
    requests,
    seconds: (t1 - t0) / 1000,
    req_per_s: (requests * 1000) / (t1 - t0),
    resp: expect,
    ...latency.summary(),
    errors,
    drained,
    allClosed,
    closeErrors,
  };
}

let busy = Promise.resolve();
onLines((line) => {
  if (line === "quit") {
    void busy.then(async () => {
      await stack.close(500);
      process.exit(0);
    });
    return;
  }
  if (!line.startsWith("run ")) return;
  busy = busy.then(async () => {
    try {
      report("RESULT", await run(JSON.parse(line.slice(4))));
    } catch (e) {
      report("FAIL", { error: String((e as Error)?.message ?? e) });
    }
  });
});
setTimeout(() => process.exit(3), cfg.lifetimeS * 1000);
console.log(`READY ${cfg.mode} ${cfg.device}`);
