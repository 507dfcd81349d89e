/**
 * Micro-benchmark: the CPU time per request of the Web-standard server
 * (src/web/serve.ts) against `luna serve http`'s app (src/apps/http.ts) on the
 * in-memory link, and of the runtime's own server (Bun.serve, Deno.serve) on
 * the kernel's loopback.
 *
 * - luna: two stacks in this process joined by the in-memory link (no
 *   faults, real time), polled in turn by one loop that yields to the
 *   runtime after each pair of polls; a client on one keeps `conns`
 *   connections, each sending `depth` pipelined `GET` requests and sending
 *   the next burst once all their answers are in. The server stack serves
 *   `serve()` on port 80 (`new Response("Hello, World!")`) and the http app
 *   on port 81 (`GET /bytes/13`). Everything runs on one thread that never
 *   sleeps while requests flow, so the process's CPU time over the requests
 *   answered is the cost of a request through both stacks, the client and
 *   the server; the difference between the two servers is their own.
 * - kernel: the runtime's server in a child process on 127.0.0.1, driven by
 *   the same client logic over node:net from this process; the figure is the
 *   child's CPU time (/proc/PID/stat) over the requests answered: the
 *   server's cost alone, its kernel TCP included.
 *
 * Rounds alternate the order of the configurations; the figures are the
 * medians of the rounds.
 *
 * ```sh
 * node_modules/.bin/bun bench/micro_serve.ts [--rounds 5] [--seconds 2] [--conns 16] [--depth 1] [--link memory|ring] [--tree DIR]
 * node_modules/.bin/deno run -A bench/micro_serve.ts ...
 * ```
 *
 * `--link ring` joins the stacks by a DPDK net_ring pair instead (one zone
 * of DPDK buffers, the shim's bursts and copies, as on af_packet; the EAL
 * runs in this process: run as root).
 *
 * `--bare` measures each server's own work instead: the same request again
 * and again on a stand-in connection that takes every answer at once (no
 * TCP, no client), the CPU of this process per request: what the server
 * costs beyond the stack's part.
 *
 * `--tree DIR` loads the stack and `serve()` from another checkout (to compare
 * two versions: run both, interleaved, in the same time window); `--ab DIR`
 * adds `serve()` and the http app from another checkout on the same stacks,
 * ports 82 and 83, as more configurations interleaved with the others in
 * every round (the finest A/B on a noisy machine: same process, same stacks,
 * rounds alternating);
 * `--only luna|serve|app|kernel` runs one side or one server; `--close`
 * (luna-ts only) opens a connection per request instead, `Connection:
 * close`, the server closing first (its TIME-WAIT included).
 *
 * @module
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { fileURLToPath, pathToFileURL } from "node:url";
import { flagValue as arg } from "./_control.ts";

const body = "Hello, World!";
// deno-lint-ignore no-explicit-any
const g = globalThis as any;
/** The EAL of --link ring, closed at the end (its files go with it). */
let ringEal: { close(): void } | undefined;


if (process.argv[2] === "kernel") {
  const port = Number(process.argv[3]);
  const fetch = () => new Response(body);
  if (typeof g.Bun !== "undefined") g.Bun.serve({ hostname: "127.0.0.1", port, fetch });
  else g.Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, fetch);
  console.log("READY");
  process.stdin.on("data", () => {});
  process.stdin.on("end", () => process.exit(0));
} else {
  await main();
}

/** Per-connection client state: bytes of answers still due for the burst in flight. */
interface Flow {
  due: number;
  send(): void;
}

/** The length of the first whole answer in `text`, or -1. */
function answerLength(text: string): number {
  const eoh = text.indexOf("\r\n\r\n");
  if (eoh < 0) return -1;
  if (!text.startsWith("HTTP/1.1 200 ")) throw new Error(`answer: ${text.slice(0, 80)}`);
  const m = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, eoh));
  if (m === null) throw new Error("answer without Content-Length");
  const total = eoh + 4 + Number(m[1]);
  return text.length >= total ? total : -1;
}

interface Figures {
  reqPerS: number;
  cpuUsPerReq: number;
  /** Segments the server's stack sent per request (luna-ts only). */
  segsOutPer?: number;
}

async function main(): Promise<void> {
  const rounds = Number(arg("rounds", "5"));
  const seconds = Number(arg("seconds", "2"));
  const conns = Number(arg("conns", "16"));
  const depth = Number(arg("depth", "1"));
  const only = arg("only", "");
  const close = process.argv.includes("--close");
  if (close && only !== "serve" && only !== "app" && only !== "luna") {
    throw new Error("--close measures the luna-ts servers only: add --only luna, serve or app");
  }
  const tree = arg("tree", fileURLToPath(new URL("..", import.meta.url)));
  const mod = await import(pathToFileURL(`${tree}/src/mod.ts`).href);
  const { httpApp } = await import(pathToFileURL(`${tree}/src/apps/http.ts`).href);
  const link = arg("link", "memory");
  const [la, lb] = link === "ring" ? await ringPair(tree) : memoryPair(mod);
  // net_ring ports have no MAC of their own: each stack is given one (the memory link's ends have theirs).
  const mac = (n: number) => link === "ring" ? { mac: `02:00:00:00:00:0${n}` } : {};
  const tcp = { noDelay: true };
  // The client's side of a closed connection is over at once (the server closes first and holds
  // TIME-WAIT), and its ports span the whole range, so that --close can open tens of thousands.
  const clientTcp = { ...tcp, timeWaitMs: 200, ephemeralPortMin: 1024, ephemeralPortMax: 65535 };
  const a = await mod.createStack({ device: la, address: "198.18.0.1/24", tcp: clientTcp, ...mac(1) });
  const b = await mod.createStack({ device: lb, address: "198.18.0.2/24", tcp, ...mac(2) });
  // Both stacks polled by one loop here, yielding to the runtime after each pair of polls so that the
  // promise continuations of serve() run, as the stack's own loop yields between its rounds.
  let polling = true;
  const pollLoop = (async () => {
    while (polling) {
      a.poll();
      b.poll();
      await new Promise((r) => setImmediate(r));
    }
  })();
  mod.serve(b, { port: 80, fetch: () => new Response(body) });
  const ab = arg("ab", "");
  if (ab !== "") {
    const other = await import(pathToFileURL(`${ab}/src/web/serve.ts`).href);
    other.serve(b, { port: 82, fetch: () => new Response(body) });
    const otherApp = (await import(pathToFileURL(`${ab}/src/apps/http.ts`).href)).httpApp(b.device.zone);
    b.listen(83, (c: unknown) => otherApp.accept(c));
  }
  const app = httpApp(b.device.zone);
  b.listen(81, (c: unknown) => app.accept(c));

  const results: Record<string, Figures[]> = {};
  const configs: [string, () => Promise<Figures>][] = [];
  // One luna-ts configuration: requests for `path` to the server on `port` of stack b.
  const luna = (port: number, path: string) => () =>
    (close ? lunaCloseRun : lunaRun)(b, a, port, path, conns, depth, seconds);
  const bare = process.argv.includes("--bare");
  if (bare) {
    // The servers alone, over stand-in connections: made here, each once.
    const { serve: serveB } = ab !== "" ? await import(pathToFileURL(`${ab}/src/web/serve.ts`).href) : {};
    const { httpApp: appB } = ab !== "" ? await import(pathToFileURL(`${ab}/src/apps/http.ts`).href) : {};
    const fetch = () => new Response(body);
    // deno-lint-ignore no-explicit-any
    const viaServe = (f: any) => (c: unknown) => {
      // deno-lint-ignore no-explicit-any
      let accept: any;
      f({ listen: (_port: number, a: unknown) => (accept = a), unlisten: () => {} }, { port: 80, fetch });
      return accept(c);
    };
    // deno-lint-ignore no-explicit-any
    const viaApp = (f: any) => (c: unknown) => f(b.device.zone).accept(c);
    if (only !== "app") configs.push(["bare serve()", bareRun(viaServe(mod.serve), "/hello", seconds)]);
    if (only !== "app" && ab !== "") {
      configs.push(["bare serve() B", bareRun(viaServe(serveB), "/hello", seconds)]);
    }
    if (only !== "serve") configs.push(["bare http app", bareRun(viaApp(httpApp), "/bytes/13", seconds)]);
    if (only !== "serve" && ab !== "") {
      configs.push(["bare http app B", bareRun(viaApp(appB), "/bytes/13", seconds)]);
    }
  }
  if (!bare && (only === "" || only === "luna" || only === "serve")) {
    configs.push(["luna serve()", luna(80, "/hello")]);
  }
  if (!bare && ab !== "") configs.push(["luna serve() B", luna(82, "/hello")]);
  if (!bare && (only === "" || only === "luna" || only === "app")) {
    configs.push(["luna http app", luna(81, "/bytes/13")]);
    if (ab !== "") configs.push(["luna http app B", luna(83, "/bytes/13")]);
  }
  if (!bare && (only === "" || only === "kernel")) {
    const name = typeof g.Bun !== "undefined" ? "Bun.serve lo" : "Deno.serve lo";
    configs.push([name, () => kernelRun(conns, depth, seconds)]);
  }
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? configs : [...configs].reverse();
    for (const [name, run] of order) {
      const f = await run();
      (results[name] ??= []).push(f);
      console.log(
        `round ${r + 1} ${name.padEnd(16)} ${(f.reqPerS / 1000).toFixed(1).padStart(7)}k req/s  ${
          f.cpuUsPerReq.toFixed(2).padStart(6)
        } CPU µs/req${segs(f)}`,
      );
    }
  }
  const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
  console.log(
    `\nmedians of ${rounds} rounds (${
      bare ? "bare" : `${conns} connections, depth ${depth}`
    }, ${seconds} s; tree ${tree}${ab !== "" ? `; B: serve() and the app of ${ab}` : ""}):`,
  );
  for (const [name, fs] of Object.entries(results)) {
    console.log(
      `${name.padEnd(16)} ${(med(fs.map((f) => f.reqPerS)) / 1000).toFixed(1).padStart(7)}k req/s  ${
        med(fs.map((f) => f.cpuUsPerReq)).toFixed(2).padStart(6)
      } CPU µs/req${segs(fs[fs.length >> 1])}`,
    );
  }
  polling = false;
  await pollLoop;
  ringEal?.close();
  process.exit(0);
}

/** The server's segments per request, where measured. */
function segs(f: Figures): string {
  return f.segsOutPer === undefined ? "" : `  ${f.segsOutPer.toFixed(2)} server segs/req`;
}

// deno-lint-ignore no-explicit-any
function memoryPair(mod: any): unknown[] {
  const za = mod.createHeapZone({ name: "a", count: 8192 });
  const zb = mod.createHeapZone({ name: "b", count: 8192 });
  return mod.createMemoryLink({ zone: za, zoneB: zb });
}

/**
 * Two devices on a DPDK net_ring pair in this process, over one zone (net_ring hands the sender's
 * buffer to the receiver), set up as bench/micro_echo.ts sets them up: the zone's copies and the
 * shim's bursts are measured too, as on af_packet.
 */
async function ringPair(tree: string): Promise<unknown[]> {
  const { Dpdk } = await import(pathToFileURL(`${tree}/src/device/dpdk/mod.ts`).href);
  const { DpdkDevice } = await import(pathToFileURL(`${tree}/src/device/dpdk/device.ts`).href);
  const { Offload } = await import(pathToFileURL(`${tree}/ffi/symbols.ts`).href);
  const dpdk = ringEal = await Dpdk.start({ prefix: `micro-serve-${process.pid}`, memoryMb: 512 });
  const ports = dpdk.ringPair("serve", 1024);
  const zone = dpdk.createZone("serve", { count: 8191 });
  // deno-lint-ignore no-explicit-any
  return ports.map((port: any) => {
    const info = port.describe();
    const csum = Offload.ipv4Cksum | Offload.tcpCksum;
    const txOffloads = (info.txOffloads & csum) === csum ? csum : 0;
    port.configure({ zone, txOffloads, noChecksums: true, softwareCoalescing: true });
    port.start();
    return new DpdkDevice(port, 0, txOffloads);
  });
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Closed loops of pipelined GETs over `conns` luna-ts connections; CPU of this process per request. */
async function lunaRun(
  // deno-lint-ignore no-explicit-any
  b: any,
  // deno-lint-ignore no-explicit-any
  a: any,
  port: number,
  path: string,
  conns: number,
  depth: number,
  s: number,
) {
  const one = new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nHost: bench\r\n\r\n`);
  const burst = new Uint8Array(one.length * depth);
  for (let i = 0; i < depth; i++) burst.set(one, i * one.length);
  let answerLen = -1;
  let probe = "";
  let answered = 0;
  let failure: Error | undefined;
  const buf = new Uint8Array(65536);
  // deno-lint-ignore no-explicit-any
  const flows: (Flow & { c: any })[] = [];
  for (let i = 0; i < conns; i++) {
    // deno-lint-ignore no-explicit-any
    const f: Flow & { c: any } = {
      due: 0,
      c: undefined,
      send() {
        f.due = answerLen * depth;
        if (f.c.write(burst) !== burst.length) failure = new Error("client send buffer full");
      },
    };
    f.c = a.connect("198.18.0.2", port, {
      onOpen: () => {
        if (answerLen < 0 && i === 0) f.c.write(one);
        else if (answerLen > 0) f.send();
      },
      // deno-lint-ignore no-explicit-any
      onData: (c: any) => {
        for (let n = c.read(buf); n > 0; n = c.read(buf)) {
          if (answerLen < 0) {
            probe += new TextDecoder().decode(buf.subarray(0, n));
            try {
              answerLen = answerLength(probe);
            } catch (e) {
              failure = e as Error;
            }
            if (answerLen > 0) { for (const o of flows) if (o.c.state === "ESTABLISHED") o.send(); }
            continue;
          }
          f.due -= n;
          if (f.due < 0) failure = new Error(`answers longer than ${answerLen} bytes`);
          if (f.due === 0) {
            answered += depth;
            f.send();
          }
        }
      },
      onClose: (_c: unknown, e?: string) => {
        if (e !== undefined) failure = new Error(`connection failed: ${e}`);
      },
    });
    flows.push(f);
  }
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await wait(300); // warm-up
  if (failure) throw failure;
  const n0 = answered;
  const c0 = cpuMs();
  const o0 = b.stats().tcp.outSegs;
  const t0 = performance.now();
  await wait(s * 1000);
  const n = answered - n0;
  const cpu = cpuMs() - c0;
  const segsOutPer = (b.stats().tcp.outSegs - o0) / n;
  const wall = performance.now() - t0;
  for (const f of flows) f.c.abort();
  if (failure) throw failure;
  if (n === 0) throw new Error("no request answered");
  return { reqPerS: n / (wall / 1000), cpuUsPerReq: cpu * 1000 / n, segsOutPer };
}

/**
 * `conns` closed loops of one `GET` with `Connection: close` per connection: the server answers and
 * closes first; once the client has the answer and the server's FIN it closes too and opens the next.
 * CPU of this process per request (so per connection: handshake, exchange, both closes).
 */
async function lunaCloseRun(
  // deno-lint-ignore no-explicit-any
  b: any,
  // deno-lint-ignore no-explicit-any
  a: any,
  port: number,
  path: string,
  conns: number,
  _depth: number,
  s: number,
): Promise<Figures> {
  const req = new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n`);
  const buf = new Uint8Array(65536);
  let answered = 0;
  let running = true;
  let failure: Error | undefined;
  const open = () => {
    let got = 0;
    a.connect("198.18.0.2", port, {
      // deno-lint-ignore no-explicit-any
      onOpen: (c: any) => void c.write(req),
      // deno-lint-ignore no-explicit-any
      onData: (c: any) => {
        for (let n = c.read(buf); n > 0; n = c.read(buf)) got += n;
      },
      // deno-lint-ignore no-explicit-any
      onEnd: (c: any) => {
        for (let n = c.read(buf); n > 0; n = c.read(buf)) got += n;
        c.close();
      },
      onClose: (_c: unknown, e?: string) => {
        if (e !== undefined) failure = new Error(`connection failed: ${e}`);
        else if (got === 0) failure = new Error("a connection closed without an answer");
        else answered++;
        if (running && failure === undefined) open();
      },
    });
  };
  for (let i = 0; i < conns; i++) open();
  const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await wait(300);
  if (failure) throw failure;
  const n0 = answered;
  const c0 = cpuMs();
  const o0 = b.stats().tcp.outSegs;
  const t0 = performance.now();
  await wait(s * 1000);
  const n = answered - n0;
  const cpu = cpuMs() - c0;
  const segsOutPer = (b.stats().tcp.outSegs - o0) / n;
  const wall = performance.now() - t0;
  running = false;
  await wait(300);
  if (failure) throw failure;
  if (n === 0) throw new Error("no request answered");
  return { reqPerS: n / (wall / 1000), cpuUsPerReq: cpu * 1000 / n, segsOutPer };
}

/**
 * A server's own CPU per request (--bare): `accept` takes a stand-in connection on which the
 * same request arrives again and again, whole, and to which every answer is written at once (no
 * TCP, no client); the CPU of this process over the requests answered in `s` seconds.
 */
function bareRun(accept: (c: unknown) => { onData(c: unknown): void }, path: string, s: number) {
  const request = new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nHost: bench\r\n\r\n`);
  const bytes = new Uint8Array(4096);
  bytes.set(request, 64);
  const out = { handle: 0, offset: 0, bytes: new Uint8Array(2048) };
  let written = 0;
  const c = {
    zoneBytes: bytes,
    pieceOffset: 64,
    pieceLength: request.length,
    writable: true,
    sendSpace: 1 << 20,
    data: undefined,
    localAddress: "198.18.0.2",
    localPort: 80,
    remoteAddress: "198.18.0.1",
    remotePort: 40000,
    peek: () => bytes.subarray(c.pieceOffset, c.pieceOffset + c.pieceLength),
    consume(n: number) {
      c.pieceOffset += n;
      c.pieceLength -= n;
    },
    write(data: Uint8Array, offset = 0, length = data.length - offset) {
      written += length;
      return length;
    },
    alloc: () => out,
    send(_buf: unknown, length: number) {
      written += length;
      return true;
    },
    free() {},
    cork() {},
    uncork() {},
    close() {},
    abort() {},
    setNoDelay() {},
    setUserTimeout() {},
    _yieldSoon() {},
  };
  const handlers = accept(c);
  const one = () => {
    c.pieceOffset = 64;
    c.pieceLength = request.length;
    handlers.onData(c);
  };
  return (): Promise<Figures> => {
    for (let i = 0; i < 20_000; i++) one(); // warm-up
    let n = 0;
    written = 0;
    const c0 = cpuMs();
    const t0 = performance.now();
    while (performance.now() - t0 < s * 1000) {
      for (let i = 0; i < 1000; i++) one();
      n += 1000;
    }
    const cpu = cpuMs() - c0;
    const wall = performance.now() - t0;
    if (written < n * 100) throw new Error(`${written / n} bytes written per request: not answered`);
    return Promise.resolve({ reqPerS: n / (wall / 1000), cpuUsPerReq: cpu * 1000 / n });
  };
}

function procCpuMs(pid: number): number {
  // utime and stime are fields 14 and 15, in clock ticks (100 per second on Linux).
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** The runtime's server in a child, driven over node:net; the child's CPU per request. */
async function kernelRun(conns: number, depth: number, s: number): Promise<Figures> {
  const port = 20000 + (process.pid % 20000);
  const child = spawn(process.execPath, [
    ...(typeof g.Deno !== "undefined" ? ["run", "-A"] : []),
    fileURLToPath(import.meta.url),
    "kernel",
    String(port),
  ], { stdio: ["pipe", "pipe", "inherit"] });
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("kernel server did not start in 10 s")), 10_000);
      child.stdout!.on("data", (d) => {
        if (String(d).includes("READY")) {
          clearTimeout(t);
          resolve();
        }
      });
      child.on("exit", (code) => reject(new Error(`kernel server exited: ${code}`)));
    });
    const one = `GET /hello HTTP/1.1\r\nHost: bench\r\n\r\n`;
    const burst = one.repeat(depth);
    let answerLen = -1;
    {
      const probe = connect(port, "127.0.0.1");
      let text = "";
      await new Promise<void>((resolve, reject) => {
        probe.on("connect", () => probe.write(one));
        probe.on("data", (d) => {
          text += String(d);
          if ((answerLen = answerLength(text)) > 0) resolve();
        });
        probe.on("error", reject);
      });
      probe.destroy();
    }
    let answered = 0;
    const socks: Socket[] = [];
    for (let i = 0; i < conns; i++) {
      const sock = connect(port, "127.0.0.1");
      sock.setNoDelay(true);
      let due = 0;
      const send = () => {
        due = answerLen * depth;
        sock.write(burst);
      };
      sock.on("connect", send);
      sock.on("data", (d) => {
        due -= d.length;
        if (due === 0) {
          answered += depth;
          send();
        }
      });
      sock.on("error", () => {});
      socks.push(sock);
    }
    const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
    await wait(300);
    const n0 = answered;
    const c0 = procCpuMs(child.pid!);
    const t0 = performance.now();
    await wait(s * 1000);
    const n = answered - n0;
    const cpu = procCpuMs(child.pid!) - c0;
    const wall = performance.now() - t0;
    for (const sock of socks) sock.destroy();
    if (n === 0) throw new Error("no request answered");
    return { reqPerS: n / (wall / 1000), cpuUsPerReq: cpu * 1000 / n };
  } finally {
    child.stdin!.end();
    child.kill();
  }
}
