/**
 * Kernel coexistence, put together (LUNA's traffic model): luna-ts shares
 * the NIC and its address with the kernel, serves only the TCP flows it
 * owns, and takes its configuration from the kernel.
 *
 * Start ({@link startCoexistence}), in this order, each change journaled
 * ({@link HostChanges}) so that a stop or a failed start undoes it:
 *
 * 1. Where the NIC is a kernel interface (af_packet or af_xdp on a veth or
 *    a NIC's netdev), the kernel must stop answering on it itself: af_packet
 *    only copies frames, and by the weak host model the kernel would answer
 *    ARP and TCP for the address that now lives on the exception interface
 *    (RSTs for luna-ts's flows). A raw-table DROP for everything IPv4
 *    arriving on it (the packet socket has its copy before the raw table
 *    runs), `arp_ignore=8` (no ARP answers there) and `disable_ipv6=1`.
 *    Its IPv4 addresses and routes move to the exception interface.
 * 2. The exception interface: a `net_tap` port on the NIC's zone, with the
 *    NIC's MAC and MTU, up, holding the moved addresses and routes, plus the
 *    configured `address` and `gateway` if the kernel did not have them.
 * 3. luna-ts's ephemeral range goes into the kernel's
 *    `ip_local_reserved_ports`, so the kernel never picks one of its ports.
 * 4. The control plane ({@link KernelControl}) reads the exception
 *    interface's configuration; the stack starts from it and follows it.
 *
 * Stop ({@link Coexistence.close}, after the DPDK ports are closed and the
 * exception interface with them): every change is undone, newest first —
 * the addresses and routes go back to the NIC's interface, the rule and the
 * sysctls are restored.
 *
 * @module
 */
import type { Device } from "../device/device.ts";
import { DpdkDevice } from "../device/dpdk/device.ts";
import type { Dpdk } from "../device/dpdk/eal.ts";
import type { DpdkZone } from "../device/dpdk/pool.ts";
import type { Port } from "../device/dpdk/port.ts";
import { ConfigError } from "../errors.ts";
import type { IpLayer } from "../ip/ipv4_layer.ts";
import { formatMac, parseIpv4, readMac } from "../wire/mod.ts";
import { ipJson, KernelError, readSysctl, requireTools, run } from "./_exec.ts";
import { type BridgeStats, KernelBridge } from "./bridge.ts";
import { type ControlStats, type InterfaceSettings, KernelControl } from "./control.ts";
import { HostChanges } from "./host.ts";

/** Settings of coexistence (`coexist: { ... }` in a stack's config). */
export interface CoexistOptions {
  /** Name of the exception interface; default the NIC's interface name with `-k`, or `luna-k0`. */
  tap?: string;
  /** Time between reads of the kernel's configuration, ms. Default 1000. */
  pollMs?: number;
  /** Stop the kernel answering on the NIC's own interface (see the module documentation). Default true. */
  guard?: boolean;
  /** Reserve luna-ts's ephemeral ports in the kernel. Default true. */
  reservePorts?: boolean;
  /** See {@link KernelBridgeOptions.exceptionPollEvery}. */
  exceptionPollEvery?: number;
}

/** What {@link startCoexistence} needs. */
export interface CoexistStart {
  dpdk: Dpdk;
  /** The NIC's zone: the exception port is configured on it. */
  zone: DpdkZone;
  /** The NIC as the stack would see it (fault injector and pcap already wrapped around it). */
  nic: Device;
  /** The NIC's kernel interface, for af_packet and af_xdp. */
  nicIface?: string;
  /** An address (`198.18.0.2/24`) to give the kernel if it has none, and to prefer if it has several. */
  address?: string;
  /** A default gateway to give the kernel if it has none. */
  gateway?: string;
  /** The MAC the stack uses, if not the NIC's (48-bit). */
  mac?: number;
  /** luna-ts's ephemeral port range. */
  ports: [number, number];
  options: CoexistOptions;
}

const ifacePattern = /^[A-Za-z0-9_.-]{1,15}$/;
/** Descriptors of the exception port's rings. */
const tapRing = 256;

/** The exception interface's default name for NIC interface `nic`. */
export function defaultTapName(nic?: string): string {
  return nic === undefined ? "luna-k0" : `${nic.slice(0, 13)}-k`;
}

interface AddrInfo {
  family?: string;
  local?: string;
  prefixlen?: number;
  broadcast?: string;
  scope?: string;
}

interface RouteInfo {
  dst?: string;
  gateway?: string;
  protocol?: string;
  scope?: string;
  prefsrc?: string;
  metric?: number;
  type?: string;
}

function addrArgs(a: AddrInfo): string[] {
  const args = [`${a.local}/${a.prefixlen}`];
  if (a.broadcast !== undefined) args.push("broadcast", a.broadcast);
  if (a.scope !== undefined && a.scope !== "global") args.push("scope", a.scope);
  return args;
}

function routeArgs(r: RouteInfo): string[] {
  const args = [r.dst!];
  if (r.gateway !== undefined) args.push("via", r.gateway);
  if (r.protocol !== undefined) args.push("proto", r.protocol);
  if (r.scope !== undefined && r.scope !== "global") args.push("scope", r.scope);
  if (r.prefsrc !== undefined) args.push("src", r.prefsrc);
  if (r.metric !== undefined) args.push("metric", String(r.metric));
  return args;
}

/** A running coexistence; see the module documentation. */
export class Coexistence {
  /** The device the stack uses: NIC and exception path behind the classifier. */
  readonly bridge: KernelBridge;
  /** The kernel as control plane. */
  readonly control: KernelControl;
  /** The journal of changes to the host. */
  readonly changes: HostChanges;
  /** The exception interface's name. */
  readonly tap: string;
  /** Its DPDK port. */
  readonly tapPort: Port;
  /** The interface settings the stack starts with. */
  readonly initial: InterfaceSettings;
  /** What was undone at start for a process that had died coexisting here. */
  readonly recovered: string[];
  /** Zone buffers the exception port holds in its receive ring for as long as it runs. */
  readonly ringBuffers: number;
  #closed = false;

  /** @internal Use {@link startCoexistence}. */
  constructor(
    parts: {
      bridge: KernelBridge;
      control: KernelControl;
      changes: HostChanges;
      tap: string;
      tapPort: Port;
      initial: InterfaceSettings;
      recovered: string[];
      ringBuffers: number;
    },
  ) {
    this.bridge = parts.bridge;
    this.control = parts.control;
    this.changes = parts.changes;
    this.tap = parts.tap;
    this.tapPort = parts.tapPort;
    this.initial = parts.initial;
    this.recovered = parts.recovered;
    this.ringBuffers = parts.ringBuffers;
  }

  /** Lets the kernel's configuration drive `ip` from now on. */
  follow(ip: IpLayer, clock: () => number): void {
    this.control.follow(ip.iface, ip.neighbors, clock);
    void this.control.refresh();
  }

  /** The bridge's paths and the control plane's counts. */
  stats(): BridgeStats & { tap: string; control: ControlStats; recovered: string[]; ringBuffers: number } {
    return {
      ...this.bridge.stats(),
      tap: this.tap,
      control: this.control.stats(),
      recovered: this.recovered,
      ringBuffers: this.ringBuffers,
    };
  }

  /**
   * Stops following the kernel and undoes every change to the host. Call it
   * after the DPDK ports are closed (the exception interface goes with its
   * port). Throws {@link KernelError} naming what could not be undone.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.control.close();
    const failed = this.changes.undo();
    if (failed.length > 0) throw new KernelError(`coexistence did not undo everything: ${failed.join("; ")}`);
  }
}

/**
 * Sets coexistence up (see the module documentation); on failure undoes
 * what it did (the exception port is closed; the caller's `dpdk.close()`
 * releases the rest).
 *
 * @throws {KernelError} root or a tool is missing, or the kernel refused a change
 */
export function startCoexistence(s: CoexistStart): Coexistence {
  const o = s.options;
  const nicIface = s.nicIface;
  const tap = o.tap ?? defaultTapName(nicIface);
  if (!ifacePattern.test(tap)) throw new ConfigError("coexist.tap", `not an interface name: '${tap}'`);
  if (tap === nicIface) {
    throw new ConfigError("coexist.tap", `the exception interface cannot be the NIC's (${tap})`);
  }
  const guard = (o.guard ?? true) && nicIface !== undefined;
  requireTools(guard ? ["ip", "iptables"] : ["ip"]);
  const recovered = HostChanges.recover(tap);
  if (linkExists(tap)) {
    throw new KernelError(`an interface named ${tap} exists already: remove it or choose coexist.tap`);
  }
  const changes = new HostChanges(tap, nicIface);
  let tapPort: Port | undefined;
  try {
    let addrs: AddrInfo[] = [];
    let routes: RouteInfo[] = [];
    if (nicIface !== undefined) {
      const links = ipJson(["-4", "addr", "show", "dev", nicIface]) as { addr_info?: AddrInfo[] }[];
      addrs = links.flatMap((l) => l.addr_info ?? []).filter((a) => a.family === "inet");
      routes = (ipJson(["-4", "route", "show", "dev", nicIface]) as RouteInfo[])
        .filter((r) => r.protocol !== "kernel" && r.dst !== undefined && (r.type ?? "unicast") === "unicast");
    }
    if (guard) {
      const rule = [
        "PREROUTING",
        "-i",
        nicIface!,
        "-m",
        "comment",
        "--comment",
        `luna-ts coexist ${tap}`,
        "-j",
        "DROP",
      ];
      changes.iptables(["-t", "raw", "-I", ...rule], ["-t", "raw", "-D", ...rule]);
      changes.sysctl(`/proc/sys/net/ipv4/conf/${nicIface}/arp_ignore`, "8");
      changes.sysctl(`/proc/sys/net/ipv6/conf/${nicIface}/disable_ipv6`, "1");
    }
    if (nicIface !== undefined) {
      // Routes first (they name the addresses), then addresses, secondaries before the primary;
      // recorded so that the undo, newest first, restores the primary first and the routes last.
      for (const r of routes) {
        changes.push({ kind: "route", dev: nicIface, args: routeArgs(r) });
        run("ip", ["route", "del", ...routeArgs(r), "dev", nicIface]);
      }
      for (const a of [...addrs].reverse()) {
        changes.push({ kind: "addr", dev: nicIface, args: addrArgs(a) });
        try {
          run("ip", ["addr", "del", `${a.local}/${a.prefixlen}`, "dev", nicIface]);
        } catch {
          // a secondary that went with its primary
        }
      }
    }
    const mac = formatMac(s.mac ?? readMac(s.nic.mac, 0));
    tapPort = s.dpdk.attach(`net_tap0,iface=${tap},mac=${mac}`);
    // net_tap fills its receive ring from the zone at once and keeps it full: a small ring is plenty for the kernel.
    const inUse = s.zone.accounting().inUse;
    tapPort.configure({ zone: s.zone, rxDesc: tapRing, txDesc: tapRing });
    tapPort.start();
    const ringBuffers = Math.max(0, s.zone.accounting().inUse - inUse);
    run("ip", ["link", "set", "dev", tap, "mtu", String(s.nic.mtu), "up"]);
    for (const a of addrs) run("ip", ["addr", "add", ...addrArgs(a), "dev", tap]);
    if (s.address !== undefined && !addrs.some((a) => `${a.local}/${a.prefixlen}` === s.address)) {
      run("ip", ["addr", "add", s.address, "dev", tap]);
    }
    for (const r of routes) run("ip", ["route", "add", ...routeArgs(r), "dev", tap]);
    if (s.gateway !== undefined && !routes.some((r) => r.dst === "default")) {
      run("ip", ["route", "add", "default", "via", s.gateway, "dev", tap]);
    }
    if (o.reservePorts ?? true) reservePorts(changes, s.ports);
    const preferred = s.address === undefined ? 0 : parseIpv4(s.address.split("/")[0]);
    const control = new KernelControl(tap, { pollMs: o.pollMs, preferred });
    const initial = control.settings(control.readSync());
    const bridge = new KernelBridge(s.nic, new DpdkDevice(tapPort), {
      exceptionPollEvery: o.exceptionPollEvery,
    });
    return new Coexistence({ bridge, control, changes, tap, tapPort, initial, recovered, ringBuffers });
  } catch (e) {
    // The exception interface goes first, so that the moved routes can come back.
    try {
      tapPort?.stop();
      tapPort?.close();
    } catch {
      // dpdk.close() tries again
    }
    const failed = changes.undo();
    if (failed.length > 0 && e instanceof Error) {
      e.message += ` (and undoing the start failed: ${failed.join("; ")})`;
    }
    throw e;
  }
}

/** Whether the kernel has an interface of that name in this namespace. */
function linkExists(name: string): boolean {
  try {
    run("ip", ["link", "show", "dev", name]);
    return true;
  } catch {
    return false;
  }
}

/** Adds `lo-hi` to the kernel's reserved ports, journaled. */
function reservePorts(changes: HostChanges, [lo, hi]: [number, number]): void {
  const path = "/proc/sys/net/ipv4/ip_local_reserved_ports";
  const old = readSysctl(path);
  if (old === undefined) {
    throw new KernelError(`${path} is missing: cannot keep the kernel off luna-ts's ports`);
  }
  const range = lo === hi ? String(lo) : `${lo}-${hi}`;
  changes.sysctl(path, old === "" ? range : `${old},${range}`);
}
