// The test networks of the TCP benchmarks, built in private network
// namespaces and torn down afterwards (also after a failure or ^C):
//
//   <id>l               loopback only: a kernel server and the C client on 127.0.0.1
//   <id>s  <->  <id>c   a veth pair: kernel server on 198.18.0.1, clients on 198.18.0.2
//                       (and 198.18.0.10-25, source addresses for the connection rate)
//   <id>a  <->  <id>b   a veth pair for luna-ts on net_af_packet: no kernel address
//                       on the server side (198.18.2.1 belongs to luna-ts), clients
//                       on 198.18.2.2 and 198.18.2.10-25; checksum and segmentation
//                       offloads off on both ends (see NOTES.md)
//
// Addresses come from 198.18.0.0/15, the range reserved for benchmarks.
import { spawnSync } from "node:child_process";
import { offloadsOffArgs } from "../src/lab/netns.ts";

/** Runs a command; throws with its output when it fails. */
export function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(" ")}: exit ${r.status}: ${(r.stderr || r.stdout || String(r.error)).trim()}`,
    );
  }
  return r.stdout;
}

/** Source addresses `prefix.10` .. `prefix.25`, for connection-rate clients. */
export const sources = (prefix: string) => Array.from({ length: 16 }, (_, i) => `${prefix}.${10 + i}`);

/** Where one configuration's server and client run. */
export interface Path {
  /** Namespace of the server. */
  serverNs: string;
  /** Namespace of the client. */
  clientNs: string;
  /** Address the server listens on. */
  serverAddr: string;
  /** Source addresses the client may bind. */
  clientSources: string[];
}

/** The namespaces of one benchmark run. */
export class Lab {
  readonly id: string;
  readonly lo: Path;
  readonly veth: Path;
  readonly afPacket: Path & { serverIface: string; luna: string; clientAddr: string };
  readonly #namespaces: string[] = [];

  /** Names derive from `id` (a few letters and digits, unique per run: the pid). */
  constructor(id: string) {
    this.id = id;
    this.lo = {
      serverNs: `${id}l`,
      clientNs: `${id}l`,
      serverAddr: "127.0.0.1",
      clientSources: sources("127.0.0"),
    };
    this.veth = {
      serverNs: `${id}s`,
      clientNs: `${id}c`,
      serverAddr: "198.18.0.1",
      clientSources: sources("198.18.0"),
    };
    this.afPacket = {
      serverNs: `${id}a`,
      clientNs: `${id}b`,
      serverAddr: "198.18.2.1",
      clientSources: sources("198.18.2"),
      serverIface: `${id}a0`,
      luna: "198.18.2.1/24",
      clientAddr: "198.18.2.2",
    };
  }

  /** Builds every namespace; on failure tears down what it built and throws. */
  up(): void {
    try {
      const { lo, veth, afPacket: af } = this;
      this.#ns(lo.serverNs);
      this.#ns(veth.serverNs);
      this.#ns(veth.clientNs);
      this.#ns(af.serverNs);
      this.#ns(af.clientNs);
      this.#veth(veth.serverNs, `${this.id}s0`, veth.clientNs, `${this.id}c0`);
      this.#addr(veth.serverNs, `${this.id}s0`, "198.18.0.1/24");
      this.#addr(veth.clientNs, `${this.id}c0`, "198.18.0.2/24");
      for (const a of veth.clientSources) this.#addr(veth.clientNs, `${this.id}c0`, `${a}/24`);
      this.#veth(af.serverNs, af.serverIface, af.clientNs, `${this.id}b0`);
      this.#addr(af.clientNs, `${this.id}b0`, `${af.clientAddr}/24`);
      for (const a of af.clientSources) this.#addr(af.clientNs, `${this.id}b0`, `${a}/24`);
      for (const [ns, dev] of [[af.serverNs, af.serverIface], [af.clientNs, `${this.id}b0`]]) {
        sh("ip", offloadsOffArgs(ns, dev));
      }
    } catch (e) {
      this.down();
      throw e;
    }
  }

  /**
   * Removes every namespace this run made (their interfaces go with them).
   * `ip netns del` can fail while a process is still entering or leaving the
   * namespace; it is retried, and what could not be removed is named.
   */
  down(): void {
    const left: string[] = [];
    for (const ns of this.#namespaces.splice(0).reverse()) {
      for (let attempt = 0;; attempt++) {
        const r = spawnSync("ip", ["netns", "del", ns], { encoding: "utf8" });
        if (r.status === 0 || /No such file|does not exist/.test(r.stderr)) break;
        if (attempt >= 20) {
          left.push(`${ns} (${r.stderr.trim()})`);
          break;
        }
        spawnSync("sleep", ["0.1"]);
      }
    }
    if (left.length > 0) console.error(`bench: could not remove network namespaces: ${left.join(", ")}`);
  }

  #ns(name: string): void {
    sh("ip", ["netns", "add", name]);
    this.#namespaces.push(name);
    sh("ip", ["-n", name, "link", "set", "lo", "up"]);
    // A wide port range and TIME-WAIT reuse for the client's active closes;
    // no IPv6 chatter on the links.
    for (
      const kv of [
        "net.ipv4.ip_local_port_range=1024 65535",
        "net.ipv4.tcp_tw_reuse=1",
        "net.ipv6.conf.all.disable_ipv6=1",
        "net.ipv6.conf.default.disable_ipv6=1",
        "net.core.somaxconn=4096",
        "net.ipv4.tcp_max_syn_backlog=4096",
      ]
    ) sh("ip", ["netns", "exec", name, "sysctl", "-q", "-w", kv]);
  }

  #veth(nsA: string, a: string, nsB: string, b: string): void {
    sh("ip", ["link", "add", a, "netns", nsA, "type", "veth", "peer", "name", b, "netns", nsB]);
    sh("ip", ["-n", nsA, "link", "set", a, "up"]);
    sh("ip", ["-n", nsB, "link", "set", b, "up"]);
  }

  #addr(ns: string, dev: string, cidr: string): void {
    sh("ip", ["-n", ns, "addr", "add", cidr, "dev", dev]);
  }
}
