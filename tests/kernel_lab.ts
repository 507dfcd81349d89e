/**
 * The namespace lab of the kernel coexistence tests: namespace A holds the
 * veth end a luna stack drives through af_packet (with the kernel's address
 * on it before luna-ts starts, as a host's NIC would have), namespace B the
 * peer, an ordinary kernel. Names are unique per run; every command is
 * bounded in time. Needs root and the tools in {@link labTools}.
 *
 * @module
 */
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { childScript, runtimeCommand } from "./child.ts";
import { offloadsOffArgs } from "../src/lab/netns.ts";
import { runTool } from "../src/util/exec.ts";

/** Tools the lab and its judges use, with their Debian packages. */
export const labTools: Record<string, string> = {
  ip: "iproute2",
  ethtool: "ethtool",
  iptables: "iptables",
  ping: "iputils-ping",
  curl: "curl",
  tcpdump: "tcpdump",
  "/usr/bin/python3": "python3",
};

/** Throws naming every missing tool and its package, or the missing root. */
export function requireLab(): void {
  const problems: string[] = [];
  if (typeof process.getuid === "function" && process.getuid() !== 0) problems.push("root is needed");
  const missing = Object.keys(labTools).filter((t) =>
    spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0
  );
  if (missing.length > 0) {
    problems.push(
      `missing: ${missing.join(", ")} (apt-get install -y ${
        missing.map((t) => labTools[t]).join(" ")
      }; scripts/setup.sh does)`,
    );
  }
  if (problems.length > 0) throw new Error(`the kernel coexistence lab cannot run: ${problems.join("; ")}`);
}

/** Runs a command to its end; throws with its output if it fails. */
export const sh = runTool;

/** What an async command did. */
export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end without blocking, killed after `timeoutMs`; never rejects. */
export function shAsync(cmd: string, args: string[], timeoutMs = 20_000): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(cmd, args, { encoding: "utf8", timeout: timeoutMs, maxBuffer: 1 << 26 }, (e, stdout, stderr) => {
      const code = e === null
        ? 0
        : typeof (e as { code?: unknown }).code === "number"
        ? (e as { code: number }).code
        : -1;
      resolve({ code, stdout, stderr: stderr || (e?.message ?? "") });
    });
  });
}

/** A two-namespace lab; see the module documentation. */
export class KernelLab {
  /** Namespace of luna-ts (and of the kernel it shares the address with). */
  readonly a: string;
  /** Namespace of the peer. */
  readonly b: string;
  /** The veth end in A (luna's NIC), and in B. */
  readonly nic = "luna0";
  readonly peerIf = "peer0";
  /** Addresses: luna's (set on the NIC's interface before start), the peer's. */
  readonly lunaIp: string;
  readonly peerIp: string;
  readonly net: string;
  #closed = false;

  constructor(tag: string, subnet: number) {
    requireLab();
    const id = `lk${tag}-${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
    this.a = `${id}-a`;
    this.b = `${id}-b`;
    this.net = `198.18.${subnet}`;
    this.lunaIp = `${this.net}.2`;
    this.peerIp = `${this.net}.1`;
    try {
      sh("ip", ["netns", "add", this.a]);
      sh("ip", ["netns", "add", this.b]);
      sh("ip", [
        "link",
        "add",
        this.nic,
        "netns",
        this.a,
        "numrxqueues",
        "1",
        "numtxqueues",
        "1",
        "type",
        "veth",
        "peer",
        "name",
        this.peerIf,
        "netns",
        this.b,
      ]);
      for (const [ns, dev] of [[this.a, this.nic], [this.b, this.peerIf]]) {
        sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
        // A veth leaves checksums to offload; a DPDK port on it must see them filled in.
        sh("ip", offloadsOffArgs(ns, dev));
        sh("ip", ["-n", ns, "link", "set", dev, "up"]);
      }
      sh("ip", ["-n", this.b, "addr", "add", `${this.peerIp}/24`, "dev", this.peerIf]);
      sh("ip", ["-n", this.a, "addr", "add", `${this.lunaIp}/24`, "dev", this.nic]);
      // A route that is not the connected one, to see it move and come back.
      sh("ip", ["-n", this.a, "route", "add", "198.19.0.0/16", "via", this.peerIp, "dev", this.nic]);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** `ip netns exec NS cmd args`, to its end. */
  exec(ns: string, cmd: string, args: string[], timeoutMs = 10_000): string {
    return sh("ip", ["netns", "exec", ns, cmd, ...args], timeoutMs);
  }

  /** Like {@link exec}, without blocking; never rejects. */
  run(ns: string, cmd: string, args: string[], timeoutMs = 20_000): Promise<Ran> {
    return shAsync("ip", ["netns", "exec", ns, cmd, ...args], timeoutMs);
  }

  /** Starts a long-running command in a namespace (killed by {@link close} with the namespace). */
  spawn(ns: string, cmd: string, args: string[]): ChildProcess {
    const p = spawn("ip", ["netns", "exec", ns, cmd, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    p.stdout!.setEncoding("utf8");
    p.stderr!.setEncoding("utf8");
    return p;
  }

  /** What coexistence may change in A, as comparable text: addresses, routes, links, raw rules, sysctls. */
  snapshot(): Record<string, unknown> {
    const addrs = (JSON.parse(sh("ip", ["-n", this.a, "-j", "addr", "show"])) as {
      ifname: string;
      addr_info: { local: string; prefixlen: number }[];
    }[])
      .map((l) => `${l.ifname}: ${l.addr_info.map((x) => `${x.local}/${x.prefixlen}`).join(" ")}`);
    const sysctl = (p: string) => this.exec(this.a, "cat", [`/proc/sys/net/${p}`]).trim();
    return {
      links: (JSON.parse(sh("ip", ["-n", this.a, "-j", "link", "show"])) as { ifname: string }[]).map((l) =>
        l.ifname
      ),
      addrs,
      routes: sh("ip", ["-n", this.a, "-4", "route", "show"]).trim(),
      raw: this.exec(this.a, "iptables", ["-t", "raw", "-S"]).trim(),
      reserved: sysctl("ipv4/ip_local_reserved_ports"),
      arpIgnore: sysctl(`ipv4/conf/${this.nic}/arp_ignore`),
      ipv6: sysctl(`ipv6/conf/${this.nic}/disable_ipv6`),
    };
  }

  /** Removes both namespaces, killing what runs in them. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const ns of [this.a, this.b]) {
      const pids = (spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout ?? "").split("\n")
        .map(Number).filter((p) => p > 0);
      for (const p of pids) {
        try {
          process.kill(p, "SIGKILL");
        } catch {
          // gone
        }
      }
      spawnSync("ip", ["netns", "del", ns]);
    }
  }
}

/** A luna stack in namespace A (tests/children/kernel_serve.ts), its output collected. */
export class LunaInNamespace {
  readonly process: ChildProcess;
  stdout = "";
  stderr = "";
  readonly #exited: Promise<number | null>;

  constructor(lab: KernelLab, config: Record<string, unknown>) {
    const [cmd, argv] = runtimeCommand(childScript("kernel_serve.ts"), [JSON.stringify(config)]);
    this.process = spawn("ip", ["netns", "exec", lab.a, cmd, ...argv], { stdio: ["pipe", "pipe", "pipe"] });
    this.process.stdout!.setEncoding("utf8");
    this.process.stderr!.setEncoding("utf8");
    this.process.stdout!.on("data", (d: string) => (this.stdout += d));
    this.process.stderr!.on("data", (d: string) => (this.stderr += d));
    this.#exited = new Promise((resolve) => this.process.on("close", (code) => resolve(code)));
  }

  /** The object on the first stdout line starting with `tag `; throws after `timeoutMs` or if the child ends first. */
  async line(tag: string, timeoutMs = 30_000): Promise<Record<string, any>> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const l = this.stdout.split("\n").find((x) => x.startsWith(`${tag} `));
      if (l !== undefined) return JSON.parse(l.slice(tag.length + 1));
      if (this.process.exitCode !== null || this.process.signalCode !== null) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`luna child: no ${tag} line (exit ${this.process.exitCode})\n${this.explain()}`);
  }

  /** Waits (bounded) for a line of stdout that matches `pattern`. */
  async waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      const l = this.stdout.split("\n").find((x) => pattern.test(x));
      if (l !== undefined) return l;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`luna child: no line matching ${pattern} within ${timeoutMs} ms\n${this.explain()}`);
  }

  /**
   * Asks the child to stop cleanly ("stop" on its stdin), or kills it with
   * SIGKILL (a crash), and waits (bounded) for it to end; returns its exit code.
   */
  async stop(how: "clean" | "SIGKILL" = "clean", timeoutMs = 20_000): Promise<number | null> {
    if (how === "clean") this.process.stdin!.write("stop\n");
    else this.process.kill("SIGKILL");
    const timer = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), timeoutMs));
    const r = await Promise.race([this.#exited, timer]);
    if (r === "timeout") {
      this.process.kill("SIGKILL");
      throw new Error(`luna child did not stop within ${timeoutMs} ms\n${this.explain()}`);
    }
    return r;
  }

  /** Its output, for a failed assertion's message. */
  explain(): string {
    return `--- stdout\n${this.stdout.slice(-4000)}\n--- stderr\n${this.stderr.slice(-4000)}`;
  }
}
