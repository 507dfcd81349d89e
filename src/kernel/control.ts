/**
 * The kernel as luna-ts's control plane: the stack takes its address,
 * prefix, gateway and neighbours from the kernel's configuration of the
 * exception interface (read with `ip -j`), once at start and then every
 * `pollMs` beside the loop, so that `ip addr` and `ip route` reach a running
 * stack. One source of truth: the stack has no address settings of its own
 * while it coexists.
 *
 * Which address: the kernel's first IPv4 address on the interface (its
 * primary), unless a preferred one (the `address` of the stack's config) is
 * among them. No address: the stack owns nothing (address 0) and every frame
 * goes to the kernel until one is added. The gateway is the interface's
 * default route with the lowest metric, if it is on the address's subnet.
 *
 * A change of address applies to new connections; the stack's existing ones
 * keep the address they began with in their state, and break, as they would
 * in the kernel when an address is removed.
 *
 * @example
 * ```ts
 * import { KernelControl } from "./control.ts";
 * const control = new KernelControl("luna0k", { pollMs: 1000 });
 * const now = control.readSync(); // { addresses, gateway, neighbors }
 * ```
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { IpInterface } from "../ip/iface.ts";
import type { NeighborCache } from "../ip/neighbor.ts";
import { formatIpv4, parseIpv4, parseMac } from "../wire/mod.ts";
import { ipJson, runAsync } from "./_exec.ts";

/** One IPv4 address of an interface. */
export interface KernelAddress {
  /** The address (uint32). */
  address: number;
  prefixLen: number;
}

/** What the kernel says about an interface. */
export interface KernelIfState {
  /** IPv4 addresses, in the kernel's order (the primary first). */
  addresses: KernelAddress[];
  /** Gateway of the default route through the interface (uint32), 0 for none. */
  gateway: number;
  /** Resolved neighbours (ARP entries that are not FAILED or INCOMPLETE). */
  neighbors: { ip: number; mac: number }[];
}

/** The address, prefix and gateway a stack uses. */
export interface InterfaceSettings {
  address: number;
  prefixLen: number;
  gateway: number;
}

const usableNeighbor = new Set(["REACHABLE", "STALE", "DELAY", "PROBE", "PERMANENT", "NOARP"]);

/** The IPv4 addresses in `ip -j -4 addr show dev IF` output. */
export function parseAddresses(json: unknown): KernelAddress[] {
  const out: KernelAddress[] = [];
  for (const link of asArray(json)) {
    for (const a of asArray((link as { addr_info?: unknown }).addr_info)) {
      const info = a as { family?: string; local?: string; prefixlen?: number };
      if (info.family !== "inet" || typeof info.local !== "string" || typeof info.prefixlen !== "number") {
        continue;
      }
      out.push({ address: parseIpv4(info.local), prefixLen: info.prefixlen });
    }
  }
  return out;
}

/** The gateway of the default route with the lowest metric in `ip -j -4 route show dev IF` output; 0 if none. */
export function parseGateway(json: unknown): number {
  let best = 0;
  let bestMetric = Infinity;
  for (const r of asArray(json)) {
    const route = r as { dst?: string; gateway?: string; metric?: number };
    if (route.dst !== "default" || typeof route.gateway !== "string") continue;
    const metric = route.metric ?? 0;
    if (metric < bestMetric) {
      bestMetric = metric;
      best = parseIpv4(route.gateway);
    }
  }
  return best;
}

/** The resolved neighbours in `ip -j -4 neigh show dev IF` output. */
export function parseNeighbors(json: unknown): { ip: number; mac: number }[] {
  const out: { ip: number; mac: number }[] = [];
  for (const n of asArray(json)) {
    const e = n as { dst?: string; lladdr?: string; state?: string[] };
    if (typeof e.dst !== "string" || typeof e.lladdr !== "string" || e.dst.includes(":")) continue;
    if (!(e.state ?? []).some((s) => usableNeighbor.has(s))) continue;
    try {
      out.push({ ip: parseIpv4(e.dst), mac: parseMac(e.lladdr) });
    } catch {
      // not an IPv4 neighbour on Ethernet
    }
  }
  return out;
}

/** The settings a stack takes from `state`, preferring `preferred` (uint32) if the kernel has it; see the module documentation. */
export function chooseSettings(state: KernelIfState, preferred = 0): InterfaceSettings {
  const a = state.addresses.find((x) => x.address === preferred) ?? state.addresses[0];
  if (a === undefined) return { address: 0, prefixLen: 32, gateway: 0 };
  const mask = a.prefixLen === 0 ? 0 : (0xffffffff << (32 - a.prefixLen)) >>> 0;
  const onLink = ((state.gateway ^ a.address) & mask) === 0;
  return { address: a.address, prefixLen: a.prefixLen, gateway: onLink ? state.gateway : 0 };
}

function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** Options of a {@link KernelControl}. */
export interface KernelControlOptions {
  /** Time between reads of the kernel's configuration, ms. Default 1000. */
  pollMs?: number;
  /** The address to use when the kernel has several (uint32); default: the kernel's primary. */
  preferred?: number;
}

/** What a running {@link KernelControl} did. */
export interface ControlStats {
  /** Reads of the kernel's configuration. */
  reads: number;
  /** Changes of address, prefix or gateway applied to the stack. */
  changes: number;
  /** Neighbour entries taken from the kernel (refreshes included). */
  neighborsLearned: number;
  /** Reads that failed; the last error. */
  errors: number;
  /** The last read error's text. */
  lastError?: string;
  /** The interface as the stack uses it now. */
  current: string;
}

/** Reads an interface's configuration from the kernel and applies it to a stack; see the module documentation. */
export class KernelControl {
  /** The kernel interface it reads. */
  readonly iface: string;
  readonly #pollMs: number;
  readonly #preferred: number;
  #target: { iface: IpInterface; neighbors: NeighborCache; clock: () => number } | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #inFlight: Promise<void> | undefined;
  #closed = false;
  #reads = 0;
  #changes = 0;
  #learned = 0;
  #errors = 0;
  #lastError: string | undefined;

  constructor(iface: string, options: KernelControlOptions = {}) {
    const pollMs = options.pollMs ?? 1000;
    if (!(pollMs >= 10 && pollMs <= 3_600_000)) {
      throw new ConfigError("coexist.pollMs", `expected 10..3600000, got ${pollMs}`);
    }
    this.iface = iface;
    this.#pollMs = pollMs;
    this.#preferred = options.preferred ?? 0;
  }

  /** Reads the interface's configuration now, blocking (at start). */
  readSync(): KernelIfState {
    this.#reads++;
    return {
      addresses: parseAddresses(ipJson(["-4", "addr", "show", "dev", this.iface])),
      gateway: parseGateway(ipJson(["-4", "route", "show", "dev", this.iface])),
      neighbors: parseNeighbors(ipJson(["-4", "neigh", "show", "dev", this.iface])),
    };
  }

  /** Reads the interface's configuration without blocking the loop. */
  async read(): Promise<KernelIfState> {
    const q = async (args: string[]) => {
      const out = (await runAsync("ip", ["-j", "-4", ...args, "show", "dev", this.iface])).trim();
      return out === "" ? [] : JSON.parse(out);
    };
    const [addr, route, neigh] = await Promise.all([q(["addr"]), q(["route"]), q(["neigh"])]);
    this.#reads++;
    return {
      addresses: parseAddresses(addr),
      gateway: parseGateway(route),
      neighbors: parseNeighbors(neigh),
    };
  }

  /** The settings to use for `state`. */
  settings(state: KernelIfState): InterfaceSettings {
    return chooseSettings(state, this.#preferred);
  }

  /**
   * Applies `state` to `iface` and `neighbors` at `now`; returns whether
   * the address, prefix or gateway changed.
   */
  apply(state: KernelIfState, iface: IpInterface, neighbors: NeighborCache, now: number): boolean {
    const s = this.settings(state);
    let changed = false;
    if (s.address !== iface.address || s.prefixLen !== iface.prefixLen || s.gateway !== iface.gateway) {
      iface.set(s.address, s.prefixLen, s.gateway);
      this.#changes++;
      changed = true;
    }
    if (s.address !== 0) {
      for (const n of state.neighbors) {
        if (n.ip === s.address || !iface.onLink(n.ip)) continue;
        neighbors.learn(n.ip, n.mac, true, now);
        this.#learned++;
      }
    }
    return changed;
  }

  /** Keeps `iface` and `neighbors` in step with the kernel, reading every `pollMs`; `clock` gives `now`. */
  follow(iface: IpInterface, neighbors: NeighborCache, clock: () => number): void {
    this.#target = { iface, neighbors, clock };
    this.#schedule();
  }

  /** Reads and applies now (also what each poll does); resolves when done. Never rejects: errors are counted. */
  refresh(): Promise<void> {
    if (this.#inFlight !== undefined) return this.#inFlight;
    this.#inFlight = (async () => {
      try {
        const state = await this.read();
        const t = this.#target;
        if (t !== undefined && !this.#closed) this.apply(state, t.iface, t.neighbors, t.clock());
      } catch (e) {
        this.#errors++;
        this.#lastError = (e as Error).message;
      } finally {
        this.#inFlight = undefined;
      }
    })();
    return this.#inFlight;
  }

  /** Counts, and the interface as the stack uses it now. */
  stats(): ControlStats {
    const i = this.#target?.iface;
    return {
      reads: this.#reads,
      changes: this.#changes,
      neighborsLearned: this.#learned,
      errors: this.#errors,
      lastError: this.#lastError,
      current: i === undefined || i.address === 0
        ? "none"
        : `${formatIpv4(i.address)}/${i.prefixLen}${i.gateway === 0 ? "" : ` via ${formatIpv4(i.gateway)}`}`,
    };
  }

  /** Stops following; waits for a read in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#inFlight;
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = setTimeout(async () => {
      await this.refresh();
      this.#schedule();
    }, this.#pollMs);
    // A poll alone does not keep the process alive.
    const t = this.#timer as unknown as { unref?: () => void };
    if (typeof t.unref === "function") t.unref();
    // deno-lint-ignore no-explicit-any
    else (globalThis as any).Deno?.unrefTimer?.(this.#timer);
  }
}
