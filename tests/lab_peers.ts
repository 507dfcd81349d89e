/**
 * Helpers of the interop tests: a namespace lab per test, `luna serve` in
 * its luna side (as a child process of the runtime running the tests), and
 * shell commands in its kernel side, where curl, nc and node:net are the
 * judges. Every wait is bounded.
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createLab, type Lab, requireLabTools } from "../src/lab/netns.ts";
import type { ServeReport } from "../src/cli/serve.ts";
import { Child, type ChildResult, explain, removeEalFiles, uniquePrefix } from "./child.ts";

/** The repository's root directory. */
export const repoRoot: string = fileURLToPath(new URL("..", import.meta.url));
/** The `luna` command's script. */
export const lunaScript: string = join(repoRoot, "src", "cli", "main.ts");

/** Tools the interop tests need; a missing one fails the test, naming its package. */
export const interopTools = ["ip", "ethtool", "curl", "nc", "node", "sha256sum", "tcpdump"];

/** A lab for one test, after checking root and the tools (failing loudly, never skipping). */
export function interopLab(): Lab {
  requireLabTools(interopTools);
  return createLab({ prefix: "luna-test" });
}

/** A `luna serve` running in a lab. */
export interface LunaServer {
  child: Child;
  prefix: string;
  port: number;
  /** The line it printed once ready. */
  ready: string;
  /** Its control socket, when it has one. */
  control?: string;
}

/** Starts `luna serve APP` on the lab's luna side and waits (bounded) for its ready line. */
export async function startLuna(
  lab: Lab,
  app: string,
  mode: "batch" | "inline",
  options: { port?: number; extra?: string[]; program?: string; device?: string; timeoutMs?: number } = {},
): Promise<LunaServer> {
  const prefix = uniquePrefix(`serve-${app}`);
  const port = options.port ?? (app === "http" ? 80 : app === "echo" ? 7 : 9);
  const args = [
    "serve",
    app,
    "--device",
    options.device ?? `af_packet:${lab.luna.iface}`,
    "--address",
    lab.luna.cidr,
    "--port",
    String(port),
    "--mode",
    mode,
    "--prefix",
    prefix,
    "--json",
    ...(options.extra ?? []),
  ];
  const child = new Child(lunaScript, args, {
    wrap: lab.wrap("luna"),
    timeoutMs: options.timeoutMs ?? 150_000,
    program: options.program,
  });
  try {
    const ready = await child.waitFor(/^luna: serving /, 30_000);
    // Printed before the ready line, when the server has a control socket.
    const control = await child.waitFor(/^luna: control socket /, 0).then((l) => l.split(" ")[3], () => undefined);
    return { child, prefix, port, ready, control };
  } catch (e) {
    child.process.kill("SIGKILL");
    removeEalFiles(prefix);
    throw e;
  }
}

/** Resolves with `p`, or rejects after `ms`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Stops a server with SIGINT; returns its run and the report of its JSON line. */
export async function stopLuna(s: LunaServer): Promise<{ run: ChildResult; report: ServeReport }> {
  // process.kill, not ChildProcess.kill: after the latter, Deno's node:child_process reports the
  // exit as "killed by the signal" even when the child handled it and exited 0.
  process.kill(s.child.process.pid!, "SIGINT");
  const run = await within(s.child.done(), 20_000, "luna serve after SIGINT");
  const line = run.stdout.split("\n").reverse().find((l) => l.startsWith("{"));
  if (run.code !== 0 || line === undefined) {
    throw new Error(`luna serve did not stop cleanly: ${explain(run)}`);
  }
  return { run, report: JSON.parse(line) as ServeReport };
}

/** Kills a server if it still runs and removes its EAL files. */
export function killLuna(s: LunaServer | undefined): void {
  if (s === undefined) return;
  const running = s.child.process.exitCode === null && s.child.process.signalCode === null;
  if (running) s.child.process.kill("SIGKILL");
  removeEalFiles(s.prefix);
  // A killed (or failed) server leaves its control socket behind; one that stopped cleanly removed it.
  if (s.control !== undefined && (running || s.child.process.exitCode !== 0)) rmSync(s.control, { force: true });
}

/** What a command printed. */
export interface ShResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `script` with bash in a side of the lab, with pipefail; resolves with
 * its output, and rejects if it fails (unless `allowFail`) or outlives `timeoutMs`.
 */
export function sh(
  lab: Lab,
  side: "luna" | "kernel",
  script: string,
  options: { timeoutMs?: number; allowFail?: boolean; binary?: boolean } = {},
): Promise<ShResult> {
  const [cmd, ...args] = lab.wrap(side);
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, [...args, "bash", "-c", `set -o pipefail; ${script}`], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    p.stdout!.setEncoding(options.binary ? "latin1" : "utf8");
    p.stderr!.setEncoding("utf8");
    p.stdout!.on("data", (d: string) => (stdout += d));
    p.stderr!.on("data", (d: string) => (stderr += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      p.kill("SIGKILL");
    }, timeoutMs);
    p.on("close", (code) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(
          new Error(
            `'${script}' ran past ${timeoutMs} ms\nstdout: ${stdout.slice(-2000)}\nstderr: ${stderr}`,
          ),
        );
      } else if (code !== 0 && !options.allowFail) {
        reject(new Error(`'${script}' exited ${code}\nstdout: ${stdout.slice(-2000)}\nstderr: ${stderr}`));
      } else resolve({ code, stdout, stderr });
    });
  });
}

/** Lowercase hex SHA-256 of a file. */
export function fileSha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** One HTTP response as read off the wire. */
export interface WireResponse {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** Splits a byte stream (latin1 text) of HTTP/1.1 responses with Content-Length bodies. */
export function parseResponses(stream: string): WireResponse[] {
  const out: WireResponse[] = [];
  let at = 0;
  while (at < stream.length) {
    const end = stream.indexOf("\r\n\r\n", at);
    if (end < 0) {
      throw new Error(`truncated response head at ${at}: ${JSON.stringify(stream.slice(at, at + 200))}`);
    }
    const lines = stream.slice(at, end).split("\r\n");
    const m = /^HTTP\/1\.[01] (\d{3}) /.exec(lines[0]);
    if (m === null) throw new Error(`not a status line: ${JSON.stringify(lines[0])}`);
    const headers = new Map<string, string>();
    for (const l of lines.slice(1)) {
      const c = l.indexOf(":");
      headers.set(l.slice(0, c).toLowerCase(), l.slice(c + 1).trim());
    }
    const status = Number(m[1]);
    const len = status === 100 ? 0 : Number(headers.get("content-length") ?? "0");
    out.push({ status, headers, body: stream.slice(end + 4, end + 4 + len) });
    at = end + 4 + len;
  }
  return out;
}

/** Tools the full interop tests need beyond {@link interopTools}, with their Debian packages. */
export const fullInteropTools: Record<string, string> = {
  socat: "socat",
  iptables: "iptables",
  tc: "iproute2",
  "/usr/bin/python3": "python3",
};

/** Checks root and every tool the full interop tests use; throws one error naming what is missing. */
export function requireFullInteropTools(): void {
  requireLabTools(interopTools);
  const missing = Object.keys(fullInteropTools).filter((t) =>
    spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0
  );
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((t) => fullInteropTools[t]))];
    throw new Error(
      `the interop tests cannot run: missing ${missing.join(", ")} (apt-get install -y ${
        pkgs.join(" ")
      }; scripts/setup.sh does)`,
    );
  }
}

/**
 * Rebuilds the lab's veth pair with one receive and one transmit queue on
 * both ends. `net_af_xdp` needs it: the kernel refuses XDP on a veth whose
 * peer has more transmit queues than it has receive queues ("veth: XDP
 * expects number of rx queues not less than peer tx queues"), and frames on
 * a queue without the socket would bypass it.
 */
export function singleQueueVeth(lab: Lab): void {
  const ns = { luna: lab.luna.ns, kernel: lab.kernel.ns };
  lab.exec("luna", "ip", ["link", "del", lab.luna.iface]);
  const q = ["numrxqueues", "1", "numtxqueues", "1"];
  const [ip, ...rest] = ["ip", "link", "add", lab.luna.iface, "netns", ns.luna, ...q, "type", "veth"];
  lab.exec("luna", ip, [...rest, "peer", "name", lab.kernel.iface, "netns", ns.kernel, ...q]);
  for (const side of ["luna", "kernel"] as const) {
    const iface = lab[side].iface;
    lab.exec(side, "ethtool", [
      "-K",
      iface,
      "tx",
      "off",
      "rx",
      "off",
      "tso",
      "off",
      "gso",
      "off",
      "gro",
      "off",
    ]);
  }
  lab.exec("kernel", "ip", ["addr", "add", lab.kernel.cidr, "dev", lab.kernel.iface]);
  lab.exec("luna", "ip", ["link", "set", lab.luna.iface, "up"]);
  lab.exec("kernel", "ip", ["link", "set", lab.kernel.iface, "up"]);
}

/** Faults that the kernel makes in the peer namespace (this kernel has no `tc netem`). */
export interface PeerFaults {
  /** Random loss each way, with `iptables -m statistic` on INPUT and OUTPUT (0..1). */
  loss?: number;
  /** A `tc tbf` rate limit on the peer's egress, `200mbit`. */
  rate?: string;
}

/**
 * Installs {@link PeerFaults} in the lab's kernel side; returns what undoes
 * them (safe to call twice; the namespace's removal undoes them too).
 */
export function addPeerFaults(lab: Lab, f: PeerFaults): () => void {
  const iface = lab.kernel.iface;
  const undo: (() => void)[] = [];
  const remove = () => {
    for (const u of undo.splice(0).reverse()) {
      try {
        u();
      } catch {
        // the namespace is gone already
      }
    }
  };
  try {
    if (f.loss !== undefined) {
      const p = String(f.loss);
      for (const [chain, dir] of [["INPUT", "-i"], ["OUTPUT", "-o"]]) {
        const rule = [
          chain,
          dir,
          iface,
          "-m",
          "statistic",
          "--mode",
          "random",
          "--probability",
          p,
          "-j",
          "DROP",
        ];
        lab.exec("kernel", "iptables", ["-w", "5", "-A", ...rule]);
        undo.push(() => lab.exec("kernel", "iptables", ["-w", "5", "-D", ...rule]));
      }
    }
    if (f.rate !== undefined) {
      lab.exec("kernel", "tc", [
        "qdisc",
        "add",
        "dev",
        iface,
        "root",
        "tbf",
        "rate",
        f.rate,
        "burst",
        "32kbit",
        "latency",
        "50ms",
      ]);
      undo.push(() => lab.exec("kernel", "tc", ["qdisc", "del", "dev", iface, "root"]));
    }
  } catch (e) {
    remove();
    throw e;
  }
  return remove;
}

/** How many packets the peer's loss rules dropped, and the tbf qdisc's counters, for messages. */
export function peerFaultCounters(lab: Lab): string {
  const out: string[] = [];
  try {
    const rules = lab.exec("kernel", "iptables", ["-w", "5", "-L", "-v", "-n", "-x"]);
    const drops = rules.split("\n").filter((l) => l.includes("statistic")).map((l) =>
      l.trim().split(/\s+/)[0]
    );
    out.push(`iptables dropped ${drops.join(" in, ")} out`);
    const q = lab.exec("kernel", "tc", ["-s", "qdisc", "show", "dev", lab.kernel.iface]);
    const m = /Sent (\d+) bytes (\d+) pkt \(dropped (\d+), overlimits (\d+)/.exec(q);
    if (m !== null) out.push(`tbf sent ${m[2]} packets, dropped ${m[3]}, overlimits ${m[4]}`);
  } catch (e) {
    out.push(String(e));
  }
  return out.join("; ");
}

/** Mbit/s of `bytes` in `seconds`, rounded. */
export function mbits(bytes: number, seconds: number): number {
  return seconds > 0 ? Math.round((bytes * 8) / seconds / 1e6) : 0;
}

/** A transfer's size for a rate line: `100 MB`, `512 kB`. */
export function sizeText(bytes: number): string {
  return bytes >= 1e6 ? `${+(bytes / 1e6).toFixed(1)} MB` : `${+(bytes / 1e3).toFixed(1)} kB`;
}

/** A curl transfer: the SHA-256 of what it received (download) or the body of the answer (upload). */
export interface CurlRun {
  /** Download: hex SHA-256 of the body; upload: the answer's body. */
  out: string;
  bytes: number;
  seconds: number;
}

/** `curl` GET of `url` in the kernel side, hashing the body with sha256sum; bounded by `timeoutS`. */
export async function curlGet(lab: Lab, url: string, timeoutS: number): Promise<CurlRun> {
  const r = await sh(
    lab,
    "kernel",
    `curl -sS --fail -m ${timeoutS} -w '%{stderr}TRANSFER %{size_download} %{time_total}\n' ${url} | sha256sum`,
    { timeoutMs: (timeoutS + 10) * 1000 },
  );
  const [bytes, seconds] = transfer(r.stderr);
  return { out: r.stdout.split(" ")[0], bytes, seconds };
}

/** `curl` POST of a file to `url` in the kernel side; bounded by `timeoutS`. */
export async function curlPost(lab: Lab, url: string, file: string, timeoutS: number): Promise<CurlRun> {
  const r = await sh(
    lab,
    "kernel",
    `curl -sS --fail -m ${timeoutS} --data-binary @${file} ` +
      `-w '%{stderr}TRANSFER %{size_upload} %{time_total}\n' ${url}`,
    { timeoutMs: (timeoutS + 10) * 1000 },
  );
  const [bytes, seconds] = transfer(r.stderr);
  return { out: r.stdout, bytes, seconds };
}

function transfer(stderr: string): [number, number] {
  const m = /TRANSFER (\d+) ([\d.]+)/.exec(stderr);
  if (m === null) throw new Error(`curl printed no transfer line: ${stderr}`);
  return [Number(m[1]), Number(m[2])];
}

/**
 * Removes the coexistence records (/run/luna-ts/coexist-NETNS-TAP.json) that
 * a `luna` killed with SIGKILL left for the lab's luna namespace: a luna that
 * stops cleanly removes its own, and once the lab's namespace is gone, the
 * changes they journal are gone with it. Call before the lab's close.
 */
export function removeCoexistRecords(lab: Lab): void {
  let ino: number;
  try {
    ino = statSync(`/run/netns/${lab.luna.ns}`).ino;
  } catch {
    return;
  }
  const dir = "/run/luna-ts";
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    if (n.startsWith(`coexist-${ino}-`) && n.endsWith(".json")) rmSync(`${dir}/${n}`, { force: true });
  }
}
