/**
 * What the SYN-flood benches (synflood.ts, synflood_connect.ts, and
 * synflood_where.ts's flood) share: their command line's `--variants` and
 * `--baseline`, the two HTTP servers they flood in the lab's first namespace,
 * `luna serve http` and the kernel's, and the flood at them.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Lab } from "../src/lab/netns.ts";
import { startLabFlood } from "../src/lab/syn_flood.ts";
import { lineFrom, removeEalFiles, stopChild as stop } from "./_proc.ts";
import { nodeBin } from "./tcp.ts";

/** A named set of `luna serve` flags to run beside the default. */
export interface Variant {
  name: string;
  flags: string[];
}

/** `--variants "NAME=FLAGS;NAME=FLAGS"` (FLAGS split at spaces; a NAME alone has none). */
export function parseVariants(args: string[]): Variant[] {
  const at = args.indexOf("--variants");
  if (at < 0) return [];
  return args[at + 1].split(";").filter((v) => v !== "").map((v) => {
    const eq = v.indexOf("=");
    const name = eq < 0 ? v : v.slice(0, eq);
    return { name, flags: (eq < 0 ? "" : v.slice(eq + 1)).split(" ").filter((f) => f !== "") };
  });
}

/** `--baseline DIR`: the `luna` command of another luna-ts checkout, to run beside this one. */
export function baselineCli(args: string[]): string | undefined {
  const at = args.indexOf("--baseline");
  if (at < 0) return undefined;
  const cli = join(args[at + 1], "src", "cli", "main.ts");
  if (!existsSync(cli)) {
    throw new Error(`--baseline: no luna-ts checkout at ${args[at + 1]} (${cli} is missing)`);
  }
  return cli;
}

/** The first number named `key` anywhere in `o` (depth first), or -1. */
export function findStat(o: unknown, key: string): number {
  if (typeof o !== "object" || o === null) return -1;
  const r = o as Record<string, unknown>;
  if (typeof r[key] === "number") return r[key] as number;
  for (const v of Object.values(r)) {
    const got = findStat(v, key);
    if (got >= 0) return got;
  }
  return -1;
}

/** How {@link startLunaHttp} runs `luna serve http`. */
export interface LunaHttpOptions {
  /** The `luna` command's main module. */
  cli: string;
  /** The EAL's file prefix. */
  prefix: string;
  /** More flags; `{iface}` in them is the lab's interface. Without `--device`, af_packet on it. */
  flags: string[];
  /** Where the runtime writes CPU profiles, if anywhere. */
  profileDir?: string;
  /** The counters of the server's final stats to keep, each pushed to `stats` when it stops. */
  statKeys: string[];
  stats: Record<string, number>[];
  /** Given the server's process as it starts (to stop it if the bench is interrupted). */
  started: (p: ChildProcess) => void;
}

/** Starts `luna serve http` in the lab's first namespace; resolves, once it serves, to what stops it. */
export async function startLunaHttp(lab: Lab, o: LunaHttpOptions): Promise<() => Promise<void>> {
  const p = spawn("ip", [
    "netns",
    "exec",
    lab.luna.ns,
    process.execPath,
    ...(o.profileDir ? ["--cpu-prof", "--cpu-prof-dir", o.profileDir] : []),
    o.cli,
    "serve",
    "http",
    ...(o.flags.includes("--device") ? [] : ["--device", `af_packet:${lab.luna.iface}`]),
    "--address",
    lab.luna.cidr,
    "--no-coexist",
    "--prefix",
    o.prefix,
    ...o.flags.map((f) => f.replaceAll("{iface}", lab.luna.iface)),
    "--json",
  ], { stdio: ["ignore", "pipe", "inherit"] });
  o.started(p);
  let out = "";
  p.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  await lineFrom(p, /^luna: serving /, 30_000);
  return async () => {
    await stop(p, "SIGINT");
    // The final stats: what the round's flood cost at the ring and in TCP.
    const last = out.split("\n").filter((l) => l.startsWith("{")).pop();
    if (last !== undefined) {
      const stats = JSON.parse(last);
      o.stats.push(Object.fromEntries(o.statKeys.map((k) => [k, findStat(stats, k)])));
    }
    removeEalFiles(o.prefix);
  };
}

/** Starts the kernel's HTTP server (kernel_http.mjs) on the lab's first side; resolves to what stops it. */
export async function startKernelHttp(
  lab: Lab,
  started: (p: ChildProcess) => void,
): Promise<() => Promise<void>> {
  const kernelHttp = fileURLToPath(new URL("./kernel_http.mjs", import.meta.url));
  lab.exec("luna", "ip", ["addr", "add", lab.luna.cidr, "dev", lab.luna.iface]);
  const p = spawn("ip", ["netns", "exec", lab.luna.ns, nodeBin, kernelHttp, lab.luna.ip, "80", "9"], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  started(p);
  await lineFrom(p, /^READY/, 20_000);
  return async () => {
    await stop(p, "SIGTERM");
    lab.exec("luna", "ip", ["addr", "flush", "dev", lab.luna.iface]);
  };
}

/**
 * Starts the lab's SYN flood at the HTTP server (port 80 of `mac`), `rate`
 * SYNs a second (0: as fast as it goes), for at most `seconds`; it stops
 * early once `stopFile` exists. It prints FLOODING once it floods.
 */
export function floodHttp(
  lab: Lab,
  mac: string,
  rate: number,
  stopFile: string,
  seconds = 120,
): ReturnType<typeof startLabFlood> {
  return startLabFlood(lab, { dstMac: mac, dstPort: 80, rate, seconds, stopFile });
}
