/**
 * A private test network: two network namespaces joined by a veth pair, with
 * addresses from 198.18.0.0/15 (RFC 2544's range for benchmarking). One end
 * (`luna`) has no kernel address: a luna stack drives it through DPDK's
 * `net_af_packet`. The other end (`kernel`) is an ordinary Linux interface,
 * so the kernel's TCP and the tools that use it (curl, nc, node:net) are the
 * peers. Used by the demo and the interop tests; needs root.
 *
 * Namespace names are `<prefix>-<pid>-<random>-luna` and `...-kern`, so that
 * namespaces left by a run that died can be told apart from live ones and
 * removed ({@link removeStaleLabs}).
 *
 * @example
 * ```ts
 * import { createLab } from "./netns.ts";
 * const lab = createLab({ prefix: "luna-demo" });
 * try {
 *   // ip netns exec lab.luna.ns luna serve echo --device af_packet:luna0 --address 198.18.0.2/24 ...
 *   lab.exec("kernel", "curl", ["-s", `http://${lab.luna.ip}/bytes/10`]);
 * } finally {
 *   lab.close();
 * }
 * ```
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { runTool, toolProblems } from "../util/exec.ts";

/** One side of the lab. */
export interface LabSide {
  /** The network namespace. */
  ns: string;
  /** The veth end inside it. */
  iface: string;
  /** Its IPv4 address (luna's, on the luna side: the kernel there has none). */
  ip: string;
  /** The address with its prefix length, `198.18.0.2/24`. */
  cidr: string;
}

/** A lab as {@link createLab} built it. */
export interface Lab {
  /** The side a luna stack drives (no kernel address). */
  readonly luna: LabSide;
  /** The side where the kernel's TCP runs. */
  readonly kernel: LabSide;
  /** Runs a command in a side's namespace to its end; throws with its output if it fails. */
  exec(side: "luna" | "kernel", cmd: string, args: string[], options?: { timeoutMs?: number }): string;
  /** The argv prefix that runs a command in a side's namespace: `["ip", "netns", "exec", NS]`. */
  wrap(side: "luna" | "kernel"): string[];
  /** Removes both namespaces (and with them the veth pair). Safe to call twice. */
  close(): void;
}

/** Options of {@link createLab}. */
export interface LabOptions {
  /** Start of the namespace names; default `luna-lab`. */
  prefix?: string;
  /** Third octet of the /24 inside 198.18.0.0/15; default 0. */
  subnet?: number;
  /** MTU of the veth pair; default 1500. */
  mtu?: number;
  /**
   * The lab's exact name, in place of `<prefix>-<pid>-<random>`: namespaces
   * `<name>-luna` and `<name>-kern`, kept after this process ends (`luna lab
   * up NAME`; {@link removeLab} removes them).
   */
  name?: string;
  /**
   * Leave the veth's offloads (checksums, TSO, GSO) on, as the kernel makes
   * them: for a `packet:` port, which takes the kernel's GSO packets and
   * checksum offload through PACKET_VNET_HDR. Default false: off at both
   * ends, as a DPDK port on the veth (net_af_packet, net_af_xdp) needs.
   */
  offloads?: boolean;
}

/** Debian packages that hold the tools the labs and their judges use. */
export const toolPackages: Record<string, string> = {
  ip: "iproute2",
  ethtool: "ethtool",
  curl: "curl",
  nc: "netcat-openbsd",
  node: "nodejs",
  sha256sum: "coreutils",
};

/** Throws one error naming every missing tool and its package, or the missing root. */
/**
 * `ip netns exec NS ethtool -K IF ...`, as an argument list for `ip`: a veth
 * leaves checksums (and segmentation) to an offload that a DPDK port on it
 * cannot see, so both ends of a veth a stack attaches to need them off.
 */
export function offloadsOffArgs(ns: string, iface: string): string[] {
  return ["netns", "exec", ns, "ethtool", "-K", iface, "tx", "off", "rx", "off", "tso", "off", "gso", "off", "gro", "off"];
}

export function requireLabTools(tools: string[] = ["ip", "ethtool"]): void {
  const problems = toolProblems(
    tools,
    "root is needed (network namespaces and DPDK devices): run as root",
    toolPackages,
    "; scripts/setup.sh does",
  );
  if (problems.length > 0) throw new Error(`the namespace lab cannot run: ${problems.join("; ")}`);
}

const run = runTool;

function namespaces(): string[] {
  const out = spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout ?? "";
  return out.split("\n").map((l) => l.split(" ")[0]).filter((n) => n.length > 0);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === "EPERM";
  }
}

/** Kills what still runs in a namespace, then removes it. */
function removeNamespace(ns: string): void {
  const pids = (spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout ?? "")
    .split("\n").map(Number).filter((p) => p > 0);
  for (const p of pids) {
    try {
      process.kill(p, "SIGKILL");
    } catch {
      // gone already
    }
  }
  spawnSync("ip", ["netns", "del", ns]);
}

/**
 * Removes the namespaces of labs named `<prefix>-<pid>-...` whose process is
 * gone (a run that crashed or was killed); returns their names.
 */
export function removeStaleLabs(prefix: string): string[] {
  const removed: string[] = [];
  const re = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-(\\d+)-[a-z0-9]+-(luna|kern)$`);
  for (const ns of namespaces()) {
    const m = re.exec(ns);
    if (m === null || alive(Number(m[1]))) continue;
    removeNamespace(ns);
    removed.push(ns);
  }
  return removed;
}

/** Removes the namespaces of the lab named `name` (made with `name`); returns those it removed. */
export function removeLab(name: string): string[] {
  const have = namespaces();
  const gone = [`${name}-luna`, `${name}-kern`].filter((n) => have.includes(n));
  for (const ns of gone) removeNamespace(ns);
  return gone;
}

/** Builds a lab; see the module documentation. Throws (after removing what it made) if a step fails. */
export function createLab(options: LabOptions = {}): Lab {
  requireLabTools();
  const prefix = options.prefix ?? "luna-lab";
  if (options.name === undefined) removeStaleLabs(prefix);
  const net = options.subnet ?? 0;
  if (!(Number.isInteger(net) && net >= 0 && net <= 255)) throw new RangeError(`subnet: 0..255, got ${net}`);
  const id = options.name ?? `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  if (options.name !== undefined && namespaces().some((n) => n === `${id}-luna` || n === `${id}-kern`)) {
    throw new Error(`a lab named ${id} exists already (its namespaces ${id}-luna, ${id}-kern)`);
  }
  const luna: LabSide = {
    ns: `${id}-luna`,
    iface: "luna0",
    ip: `198.18.${net}.2`,
    cidr: `198.18.${net}.2/24`,
  };
  const kernel: LabSide = {
    ns: `${id}-kern`,
    iface: "kern0",
    ip: `198.18.${net}.1`,
    cidr: `198.18.${net}.1/24`,
  };
  const mtu = String(options.mtu ?? 1500);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    removeNamespace(luna.ns);
    removeNamespace(kernel.ns);
  };
  try {
    run("ip", ["netns", "add", luna.ns]);
    run("ip", ["netns", "add", kernel.ns]);
    // Created straight inside the namespaces: the names never meet the host's.
    run("ip", [
      "link",
      "add",
      luna.iface,
      "netns",
      luna.ns,
      "mtu",
      mtu,
      "numrxqueues",
      "1",
      "numtxqueues",
      "1",
      "type",
      "veth",
      "peer",
      "name",
      kernel.iface,
      "netns",
      kernel.ns,
      "mtu",
      mtu,
    ]);
    for (const s of [luna, kernel]) {
      run("ip", ["-n", s.ns, "link", "set", "lo", "up"]);
      // A veth leaves checksums to offload; a DPDK port on it must see them filled in.
      if (options.offloads !== true) run("ip", offloadsOffArgs(s.ns, s.iface));
    }
    // The luna side has no kernel address: the kernel there ignores the IP traffic the stack owns.
    run("ip", ["-n", kernel.ns, "addr", "add", kernel.cidr, "dev", kernel.iface]);
    run("ip", ["-n", luna.ns, "link", "set", luna.iface, "up"]);
    run("ip", ["-n", kernel.ns, "link", "set", kernel.iface, "up"]);
  } catch (e) {
    close();
    throw e;
  }
  const wrap = (side: "luna" | "kernel") => ["ip", "netns", "exec", side === "luna" ? luna.ns : kernel.ns];
  return {
    luna,
    kernel,
    wrap,
    exec(side, cmd, args, o = {}) {
      const [w, ...rest] = wrap(side);
      return run(w, [...rest, cmd, ...args], o.timeoutMs ?? 30_000);
    },
    close,
  };
}
