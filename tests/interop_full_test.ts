// luna-ts against peers nobody here wrote, the whole matrix of issue 5: luna
// serving (curl GET and POST of 100 MB checked by SHA-256, nc and socat echo,
// 200 concurrent node:net clients echoing 1 MB each) and luna connecting
// (a node:net echo server, `python3 -m http.server`), in inline and in batch
// mode, over net_af_packet and net_af_xdp, cleanly and under faults: 2% loss
// each way (iptables -m statistic) with a tbf rate limit in the peer
// namespace, and luna's own fault injector. Each test builds its own lab (two
// namespaces, a veth pair) and removes it, with every rule, qdisc, process
// and EAL file, whatever happens. The rates the tests see are printed as
// `interop: ...` lines.
//
// LUNA_INTEROP_SEED=N replays the fault injector's choices of a failed run
// (the seed is printed with every failure); LUNA_INTEROP_FAULTS=LIST replaces
// its settings (`--faults` syntax, without the seed).
import { assert, assertEquals } from "@std/assert";
import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { patternSha256 } from "../src/apps/pattern.ts";
import { createLab, type Lab } from "../src/lab/netns.ts";
import {
  Child,
  type ChildResult,
  explain,
  removeEalFiles,
  runChild,
  tempDir,
  uniquePrefix,
} from "./child.ts";
import { describe, test } from "./harness.ts";
import {
  addPeerFaults,
  curlGet,
  curlPost,
  fileSha256,
  killLuna,
  type LunaServer,
  mbits,
  peerFaultCounters,
  type PeerFaults,
  removeCoexistRecords,
  repoRoot,
  requireFullInteropTools,
  sh,
  singleQueueVeth,
  sizeText,
  startLuna,
  stopLuna,
  within,
} from "./lab_peers.ts";

const MB = 1_000_000;
const python = "/usr/bin/python3";
const nodePeer = join(repoRoot, "tests", "children", "node_peer.mjs");
const nodeClients = join(repoRoot, "tests", "children", "interop_node_clients.mjs");
type Mode = "batch" | "inline";
const modes: Mode[] = ["batch", "inline"];

/**
 * `luna serve echo` runs on the default zone (8191 buffers), which 200
 * concurrent 1 MB echo clients can fill with received data several times
 * over: the stack's pool-pressure rules (tcp_layer.ts _watchPool) keep it
 * moving. LUNA_INTEROP_ECHO_BUFFERS=N gives it another zone size.
 */
const echoBuffers = process.env.LUNA_INTEROP_ECHO_BUFFERS;

/** The fault injector's seed of this run (printed with every failure). */
const baseSeed = process.env.LUNA_INTEROP_SEED !== undefined
  ? Number(process.env.LUNA_INTEROP_SEED)
  : Math.floor(Math.random() * 2 ** 31);

/** What a run's traffic goes through, and how much of it. */
interface Condition {
  /** For test names. */
  title: string;
  /** For rate lines. */
  label: string;
  /** Faults of the kernel in the peer namespace. */
  peer?: PeerFaults;
  /** luna's fault injector, as `--faults` takes it, without the seed. */
  faults?: string;
  /** curl GET and POST sizes. */
  httpGet: number;
  httpPost: number;
  /** nc and socat echo size. */
  stream: number;
  /** Concurrent node:net echo clients, and the bytes each echoes. */
  clients: number;
  clientBytes: number;
  /** luna as a client: the node:net echo and the python http.server file. */
  connectEcho: number;
  connectFile: number;
  /** Bound on one transfer, seconds. */
  timeoutS: number;
}

const clean: Condition = {
  title: "",
  label: "",
  httpGet: 100 * MB,
  httpPost: 100 * MB,
  stream: 4 * MB,
  clients: 200,
  clientBytes: 1 * MB,
  connectEcho: 8 * MB,
  connectFile: 8 * MB,
  timeoutS: 60,
};

const peerFaults: Condition = {
  title: "2% loss each way (iptables) and tbf 200mbit in the peer",
  label: "2% loss each way + tbf 200mbit in the peer",
  peer: { loss: 0.02, rate: "200mbit" },
  // luna sends at about 30 Mbit/s through 2% loss: 16 MB, not 100, keeps the test short.
  httpGet: 16 * MB,
  httpPost: 16 * MB,
  stream: 2 * MB,
  clients: 200,
  clientBytes: 1 * MB,
  connectEcho: 4 * MB,
  connectFile: 4 * MB,
  timeoutS: 90,
};

// reorder_ms bounds the hold of a reordered frame: held only "until 3 later frames pass", a frame
// at the end of a flight (a lone retransmission, the last ACK) waits for traffic that never comes.
const injector: Condition = {
  title: "luna's fault injector (loss 1%, reorder 25%, dup 1%, corrupt 0.1%, delay 1 ms)",
  label: `luna fault injector, seed ${baseSeed}`,
  faults: process.env.LUNA_INTEROP_FAULTS ??
    "loss=0.01,reorder=0.25,reorder_frames=3,reorder_ms=2,dup=0.01,corrupt=0.001,delay=1",
  httpGet: 4 * MB,
  httpPost: 2 * MB,
  stream: 1 * MB,
  clients: 20,
  clientBytes: 256_000,
  connectEcho: 2 * MB,
  connectFile: 2 * MB,
  timeoutS: 90,
};

/** A device of the lab's luna side. */
interface Dev {
  /** `af_packet`, `af_xdp`. */
  name: string;
  spec: (lab: Lab) => string;
}
const afPacket: Dev = { name: "af_packet", spec: (lab) => `af_packet:${lab.luna.iface}` };
const afXdp: Dev = { name: "af_xdp", spec: (lab) => `af_xdp:${lab.luna.iface}` };

function where(dev: Dev, mode: Mode, c: Condition): string {
  return `${dev.name} (${mode}${c.label ? `, ${c.label}` : ""})`;
}

function rate(what: string, bytes: number, seconds: number, over: string, extra = ""): void {
  console.log(
    `interop: ${what} ${sizeText(bytes)} over ${over}: ${mbits(bytes, seconds)} Mbit/s${extra} (${
      seconds.toFixed(2)
    } s)`,
  );
}

/** Runs `body` in a fresh lab with a temporary directory; removes both, and says the seed on failure. */
async function inLab(
  tag: string,
  c: Condition,
  body: (lab: Lab, dir: string) => Promise<void>,
  options: { singleQueue?: boolean } = {},
): Promise<void> {
  requireFullInteropTools();
  const lab = createLab({ prefix: "luna-test" });
  const dir = tempDir(`interop-full-${tag}`);
  let undoPeer: (() => void) | undefined;
  try {
    if (options.singleQueue) singleQueueVeth(lab);
    if (c.peer !== undefined) undoPeer = addPeerFaults(lab, c.peer);
    await body(lab, dir);
    if (c.peer !== undefined) console.log(`interop: peer faults: ${peerFaultCounters(lab)}`);
  } catch (e) {
    const what = [
      c.faults !== undefined
        ? `fault injector seed ${baseSeed} (LUNA_INTEROP_SEED=${baseSeed} replays it)`
        : "",
      c.peer !== undefined ? `peer: ${peerFaultCounters(lab)}` : "",
    ].filter((s) => s !== "").join("; ");
    if (what !== "" && e instanceof Error) e.message = `[${what}] ${e.message}`;
    throw e;
  } finally {
    undoPeer?.();
    removeCoexistRecords(lab);
    lab.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function randomFile(dir: string, name: string, bytes: number): { path: string; sha: string } {
  const path = join(dir, name);
  writeFileSync(path, randomBytes(bytes));
  return { path, sha: fileSha256(path) };
}

function faultArgs(c: Condition, seed: number): string[] {
  return c.faults !== undefined ? ["--faults", `${c.faults},seed=${seed}`] : [];
}

/** luna serve http: curl GET of /bytes/N and POST of a random file to /sha256. */
async function serveHttp(lab: Lab, dir: string, dev: Dev, mode: Mode, c: Condition): Promise<void> {
  const over = where(dev, mode, c);
  let srv: LunaServer | undefined;
  try {
    srv = await startLuna(lab, "http", mode, {
      device: dev.spec(lab),
      extra: faultArgs(c, baseSeed),
      timeoutMs: 4 * c.timeoutS * 1000,
    });
    const url = `http://${lab.luna.ip}`;
    const get = await curlGet(lab, `${url}/bytes/${c.httpGet}`, c.timeoutS);
    assertEquals(get.bytes, c.httpGet, `curl GET size over ${over}`);
    assertEquals(get.out, patternSha256(c.httpGet), `curl GET: SHA-256 of the pattern over ${over}`);
    rate("curl GET", get.bytes, get.seconds, over);

    const file = randomFile(dir, "upload.bin", c.httpPost);
    const post = await curlPost(lab, `${url}/sha256`, file.path, c.timeoutS);
    assertEquals(post.bytes, c.httpPost, `curl POST size over ${over}`);
    assertEquals(post.out, file.sha + "\n", `curl POST: luna's SHA-256 of the body over ${over}`);
    rate("curl POST", post.bytes, post.seconds, over);
    rmSync(file.path);

    const { report } = await stopLuna(srv);
    const a = report.appStats;
    const detail = JSON.stringify({ app: a, tcp: report.stack.tcp });
    assertEquals([a.requests, a.responses2xx, a.failed], [2, 2, 0], `http requests over ${over}: ${detail}`);
    assertEquals(
      [a.accepted, a.closed, a.open],
      [2, 2, 0],
      `every connection closed cleanly over ${over}: ${detail}`,
    );
    assertEquals(a.patternBytes, c.httpGet);
    assertEquals(a.hashedBytes, c.httpPost);
    assertEquals(report.stack.tcp.estabResets, 0, `no connection was reset over ${over}: ${detail}`);
    if (c.peer === undefined && c.faults === undefined && dev === afPacket) {
      assertEquals(report.stack.zone.inUse, 0, "every packet buffer is back in the zone");
    }
  } finally {
    killLuna(srv);
  }
}

/** Parses a `RESULT {json}` line of a kernel-side command. */
function resultOf(stdout: string): Record<string, any> {
  const line = stdout.split("\n").reverse().find((l) => l.startsWith("RESULT "));
  if (line === undefined) throw new Error(`no RESULT line in: ${stdout.slice(-2000)}`);
  return JSON.parse(line.slice("RESULT ".length));
}

/** luna serve echo: nc and socat echo a random file; many node:net clients echo at once. */
async function serveEcho(lab: Lab, dir: string, dev: Dev, mode: Mode, c: Condition): Promise<void> {
  const over = where(dev, mode, c);
  let srv: LunaServer | undefined;
  try {
    const buffers = echoBuffers !== undefined ? ["--buffers", echoBuffers] : [];
    srv = await startLuna(lab, "echo", mode, {
      device: dev.spec(lab),
      extra: [...buffers, ...faultArgs(c, baseSeed + 1)],
      timeoutMs: 4 * c.timeoutS * 1000,
    });
    const ip = lab.luna.ip;
    const file = randomFile(dir, "echo.bin", c.stream);
    const tools: [string, string][] = [
      // -N: half-close after the file, so that luna's FIN (after the echo) ends nc.
      ["nc", `nc -N -w ${c.timeoutS} ${ip} 7 < ${file.path} | sha256sum`],
      // -t: after the file, wait for luna's FIN this long (the default, 0.5 s, may cut the echo short).
      ["socat", `socat -t ${c.timeoutS} -T ${c.timeoutS} - TCP:${ip}:7 < ${file.path} | sha256sum`],
    ];
    for (const [tool, cmd] of tools) {
      const t0 = performance.now();
      const r = await sh(lab, "kernel", cmd, { timeoutMs: (c.timeoutS + 10) * 1000 });
      const seconds = (performance.now() - t0) / 1000;
      assertEquals(r.stdout.split(" ")[0], file.sha, `${tool} echo: SHA-256 of what came back over ${over}`);
      rate(`${tool} echo`, c.stream, seconds, over, " each way");
    }

    const r = await sh(
      lab,
      "kernel",
      `node ${nodeClients} ${ip} 7 ${c.clients} ${c.clientBytes} ${c.timeoutS * 1000}`,
      { timeoutMs: (c.timeoutS + 15) * 1000, allowFail: true },
    );
    const res = resultOf(r.stdout);
    if (res.ok !== c.clients || res.failed !== 0 || res.timedOut) {
      // What luna saw: its summary after SIGINT (zone waits, retransmissions, connections).
      const seen = await stopLuna(srv).then(
        ({ run }) => run.stdout.split("\n").filter((l) => !l.startsWith("{")).join("\n"),
        (e) => String(e),
      );
      throw new Error(
        `${c.clients} node:net clients over ${over}: not every byte came back or not every connection ` +
          `closed cleanly: ${JSON.stringify(res)}\n${r.stderr}\nluna serve echo:\n${seen}`,
      );
    }
    assertEquals(res.gotTotal, c.clients * c.clientBytes);
    rate(
      `${c.clients} node:net clients echoing ${sizeText(c.clientBytes)} each:`,
      res.gotTotal,
      res.seconds,
      over,
      " each way",
    );

    const { report } = await stopLuna(srv);
    const a = report.appStats;
    const n = 2 + c.clients;
    const detail = JSON.stringify({ app: a, tcp: report.stack.tcp });
    assertEquals(
      [a.accepted, a.closed, a.failed, a.open],
      [n, n, 0, 0],
      `every echo connection closed cleanly over ${over}: ${detail}`,
    );
    const total = 2 * c.stream + c.clients * c.clientBytes;
    assertEquals([a.bytesIn, a.bytesOut], [total, total], `echo byte counts over ${over}`);
    assertEquals(report.stack.tcp.estabResets, 0, `no connection was reset over ${over}: ${detail}`);
    if (c.peer === undefined && c.faults === undefined && dev === afPacket) {
      assertEquals(report.stack.zone.inUse, 0, "every packet buffer is back in the zone");
    }
  } finally {
    killLuna(srv);
  }
}

function lunaResult(r: ChildResult, what: string): Record<string, any> {
  assertEquals(r.code, 0, `${what}: ${explain(r)}`);
  assert(r.result !== undefined, `${what}: no RESULT line: ${explain(r)}`);
  return r.result as Record<string, any>;
}

/** luna connecting: to a node:net echo server and to python3 -m http.server, in both modes. */
async function connectAll(lab: Lab, dir: string, dev: Dev, c: Condition): Promise<void> {
  const served = randomFile(dir, "served.bin", c.connectFile);
  const wrapK = lab.wrap("kernel");
  const echo = new Child("node_peer.mjs", [nodePeer, "server", "9000"], {
    program: "node",
    wrap: wrapK,
    timeoutMs: 8 * c.timeoutS * 1000,
  });
  const http = new Child(
    "python3 -m http.server",
    ["-u", "-m", "http.server", "8000", "--bind", lab.kernel.ip, "--directory", dir],
    { program: python, wrap: wrapK, timeoutMs: 8 * c.timeoutS * 1000 },
  );
  const env = { LUNA_INTEROP_CLIENT_MS: String(c.timeoutS * 1000) };
  try {
    await echo.waitFor(/^LISTENING/, 10_000);
    await http.waitFor(/^Serving HTTP on /, 10_000);
    for (const [i, mode] of modes.entries()) {
      const over = where(dev, mode, c);
      const faults = c.faults !== undefined ? `${c.faults},seed=${baseSeed + 10 + i}` : "-";
      const prefix = uniquePrefix(`full-client-${mode}`);
      try {
        const r = await runChild(
          "luna_client.ts",
          [prefix, dev.spec(lab), lab.luna.cidr, lab.kernel.ip, "9000", String(c.connectEcho), mode, faults],
          { wrap: lab.wrap("luna"), timeoutMs: (c.timeoutS + 30) * 1000, env },
        );
        const res = lunaResult(r, `luna_client over ${over}`);
        const why = `luna → node:net echo over ${over}: ${explain(r)}`;
        assert(res.ok && res.opened && res.ended && res.closed, why);
        assertEquals(res.error, undefined, why);
        assertEquals([res.sent, res.got, res.firstBad], [c.connectEcho, c.connectEcho, -1], why);
        assertEquals(res.tcp.estabResets, 0, why);
        rate("luna client → node:net echo", c.connectEcho, res.seconds, over, " each way");
      } finally {
        removeEalFiles(prefix);
      }

      const prefix2 = uniquePrefix(`full-http-${mode}`);
      try {
        const r = await runChild(
          "interop_http_get.ts",
          [prefix2, dev.spec(lab), lab.luna.cidr, lab.kernel.ip, "8000", "/served.bin", mode, faults],
          { wrap: lab.wrap("luna"), timeoutMs: (c.timeoutS + 30) * 1000, env },
        );
        const res = lunaResult(r, `interop_http_get over ${over}`);
        const why = `luna → python3 -m http.server over ${over}: ${explain(r)}`;
        assert(res.ok && res.opened && res.ended && res.closed, why);
        assertEquals([res.error, res.protocolError], [undefined, undefined], why);
        assertEquals(
          [res.status, res.contentLength, res.bodyBytes],
          [200, c.connectFile, c.connectFile],
          why,
        );
        assertEquals(res.sha256, served.sha, `SHA-256 of the file: ${why}`);
        assertEquals(res.tcp.estabResets, 0, why);
        rate("luna HTTP GET from python3 -m http.server", c.connectFile, res.seconds, over);
      } finally {
        removeEalFiles(prefix2);
      }
    }
  } finally {
    for (const p of [echo, http]) {
      if (p.process.exitCode === null && p.process.signalCode === null) p.process.kill("SIGKILL");
    }
    await within(Promise.all([echo.done(), http.done()]), 10_000, "the kernel-side servers");
  }
}

const serveName = (c: Condition) =>
  `curl GET ${sizeText(c.httpGet)} and POST ${sizeText(c.httpPost)} (SHA-256), nc and socat echo ${
    sizeText(c.stream)
  }, ${c.clients} node:net clients echoing ${sizeText(c.clientBytes)} each`;
const connectName = (c: Condition) =>
  `luna connects (batch and inline): node:net echo ${sizeText(c.connectEcho)}, python3 -m http.server ${
    sizeText(c.connectFile)
  } (SHA-256)`;

describe("interop full", () => {
  for (
    const [tag, c, ms] of [
      ["clean", clean, 150_000],
      ["peer-faults", peerFaults, 240_000],
      ["injector", injector, 240_000],
    ] as const
  ) {
    const when = c.title ? ` under ${c.title}` : "";
    for (const mode of modes) {
      test(`luna serves over af_packet (${mode})${when}: ${serveName(c)}`, async () => {
        await inLab(`${tag}-${mode}`, c, async (lab, dir) => {
          await serveHttp(lab, dir, afPacket, mode, c);
          await serveEcho(lab, dir, afPacket, mode, c);
        });
      }, { timeoutMs: ms });
    }
    test(`${connectName(c)} over af_packet${when}`, async () => {
      await inLab(`${tag}-connect`, c, (lab, dir) => connectAll(lab, dir, afPacket, c));
    }, { timeoutMs: ms });
  }

  test(
    "luna serves over af_xdp (batch and inline; veth with one queue each side): curl GET and POST 100 MB (SHA-256)",
    async () => {
      const c: Condition = { ...clean, httpGet: 100 * MB, httpPost: 100 * MB };
      await inLab("af-xdp", c, async (lab, dir) => {
        for (const mode of modes) await serveHttp(lab, dir, afXdp, mode, c);
      }, { singleQueue: true });
    },
    { timeoutMs: 150_000 },
  );
});
