/**
 * The SYN flood generator (syn_flood.c), compiled on first use with gcc into
 * src/lab/build (not committed), and the arguments it takes.
 *
 * @module
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Lab } from "./netns.ts";

const source = fileURLToPath(new URL("./syn_flood.c", import.meta.url));
const buildDir = fileURLToPath(new URL("./build", import.meta.url));
const binary = `${buildDir}/syn_flood`;

/** Path of the compiled generator; compiles it when missing or older than its source. */
export function synFloodBinary(): string {
  if (!existsSync(binary) || statSync(binary).mtimeMs < statSync(source).mtimeMs) {
    mkdirSync(buildDir, { recursive: true });
    const tmp = `${binary}.${process.pid}`;
    const r = spawnSync("gcc", ["-O2", "-Wall", "-Wextra", "-Werror", "-o", tmp, source], {
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`gcc ${source} failed: ${r.stderr || r.error}`);
    renameSync(tmp, binary);
  }
  return binary;
}

/** The source ports the flood's SYNs come from (syn_flood.c). */
export const synFloodPorts = "20000:29999";

/**
 * iptables arguments for the flood's own host: drop the SYN-ACKs answering
 * the flood (from `serverPort` to {@link synFloodPorts}), so that its
 * half-open connections stay and the server's backlog fills, as under a
 * flood from spoofed sources.
 */
export function dropFloodAnswersArgs(serverPort: number): string[] {
  return ["-A", "INPUT", "-p", "tcp", "--sport", String(serverPort), "--dport", synFloodPorts, "-j", "DROP"];
}

/** What one flood sends: from `srcIp` (ports 20000..29999) on `iface` to `dstMac`/`dstIp`:`dstPort`. */
export interface SynFlood {
  iface: string;
  dstMac: string;
  srcIp: string;
  dstIp: string;
  dstPort: number;
  /** SYNs at most. */
  count: number;
  /** SYNs per second (0: as fast as the socket takes them). */
  rate: number;
  /** Seconds at most. */
  seconds: number;
  /** The flood stops once this file exists. */
  stopFile: string;
}

/** The generator's command line for `f` (run it inside the sender's namespace). */
export function synFloodArgs(f: SynFlood): string[] {
  return [
    synFloodBinary(),
    f.iface,
    f.dstMac,
    f.srcIp,
    f.dstIp,
    String(f.dstPort),
    String(f.count),
    String(f.rate),
    String(f.seconds),
    f.stopFile,
  ];
}

/** Reads the generator's last line, `sent N seconds S`. */
export function parseSynFloodResult(stdout: string): { sent: number; seconds: number } {
  const m = /^sent (\d+) seconds ([\d.]+)$/m.exec(stdout);
  if (m === null) throw new Error(`the SYN flood printed no result: ${JSON.stringify(stdout)}`);
  return { sent: Number(m[1]), seconds: Number(m[2]) };
}

/**
 * Starts a flood from `lab`'s kernel side at the luna side's address (`count`
 * unbounded: `seconds` or `stopFile` ends it): the generator's process, and
 * everything it printed once it has ended.
 */
export function startLabFlood(
  lab: Lab,
  f: Pick<SynFlood, "dstMac" | "dstPort" | "rate" | "seconds" | "stopFile">,
): { process: ChildProcess; output: Promise<string> } {
  const [w, ...rest] = lab.wrap("kernel");
  const args = synFloodArgs({ iface: lab.kernel.iface, srcIp: lab.kernel.ip, dstIp: lab.luna.ip, count: 1e9, ...f });
  const p = spawn(w, [...rest, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  const output = new Promise<string>((resolve) => {
    let out = "";
    p.stdout!.setEncoding("utf8");
    p.stdout!.on("data", (d: string) => (out += d));
    p.on("close", () => resolve(out));
  });
  return { process: p, output };
}
