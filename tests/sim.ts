/**
 * Hosts on the in-memory link, driven on a virtual clock: the test bench for
 * the IP and TCP layers. Every run is deterministic; a failing run prints
 * the seed that replays it.
 *
 * @module
 */
import { createMemoryLink, DESC_WORDS, type Device, FaultInjector, type FaultOptions } from "../src/device/mod.ts";
import { type CoalesceOptions, RxCoalescer } from "../src/device/coalesce.ts";
import { IpInterface, IpLayer } from "../src/ip/mod.ts";
import { createHeapZone, type MemZone } from "../src/mem/mod.ts";
import { readMac } from "../src/wire/mod.ts";

/** One host: a zone, a device, the IP layer, and whatever the test puts on top. */
export class Host {
  readonly zone: MemZone;
  readonly device: Device;
  readonly ip: IpLayer;
  readonly #rx = new Uint32Array(64 * DESC_WORDS);
  /** Extra per-iteration work (the TCP layer's timers). */
  onPoll: ((now: number) => void) | undefined;
  /** When the extra work next needs to run. */
  pollAtExtra: (() => number) | undefined;

  constructor(zone: MemZone, device: Device, address: number, prefixLen = 24, gateway = 0) {
    this.zone = zone;
    this.device = device;
    this.ip = new IpLayer(device, new IpInterface({ address, prefixLen, gateway, mac: readMac(device.mac, 0) }));
  }

  /** One loop iteration: receive a burst, run timers, send. Returns frames received. */
  step(now: number): number {
    const n = this.device.rx(this.#rx, 64, now);
    this.ip.receive(this.#rx, n, now);
    this.onPoll?.(now);
    this.ip.poll(now);
    this.ip.flush(now);
    return n;
  }

  /** When this host next has work without new frames. */
  pollAt(now: number): number {
    return Math.min(this.device.pollAt(now), this.ip.pollAt(), this.pollAtExtra?.() ?? Infinity);
  }
}

/** Options of {@link twoHosts}. */
export interface TwoHostsOptions {
  seed?: number;
  /** Faults on frames a sends (applied on its transmit side). */
  faultsAtoB?: FaultOptions;
  /** Faults on frames b sends. */
  faultsBtoA?: FaultOptions;
  delayMs?: number;
  bandwidthBps?: number;
  buffers?: number;
  /** Buffers of b's zone, when it differs from a's. */
  buffersB?: number;
  /** Large segments the link cuts (MemoryLinkOptions.segmentation); 0 (default): none. */
  segmentation?: number;
  /** The link's MTU; default 1500. */
  mtu?: number;
  /** Frames longer than a buffer go as chains (MemoryLinkOptions.frameChains); default off. */
  frameChains?: boolean;
  /** Bytes of data room of each host's buffers (HeapZoneOptions.dataRoom); default the heap zone's. */
  dataRoom?: number;
  /** Wraps a's device, outermost (a test's own tap or dropper). */
  wrapA?: (device: Device) => Device;
  /** Wraps b's device, outermost. */
  wrapB?: (device: Device) => Device;
  /** Each host's received segments coalesced within a burst (RxCoalescer), as LRO/GRO would; default off. */
  coalescing?: boolean | CoalesceOptions;
  /** As `coalescing`, for host a alone. */
  coalescingA?: boolean | CoalesceOptions;
}

export const addrA = 0xc6120001; // 198.18.0.1
export const addrB = 0xc6120002; // 198.18.0.2

/** Two hosts, 198.18.0.1 and 198.18.0.2, each with its own zone, joined by the in-memory link. */
export function twoHosts(options: TwoHostsOptions = {}): { a: Host; b: Host; clock: Clock } {
  const dataRoom = options.dataRoom;
  const za = createHeapZone({ name: "host-a", count: options.buffers ?? 4096, dataRoom });
  const zb = createHeapZone({ name: "host-b", count: options.buffersB ?? options.buffers ?? 4096, dataRoom });
  const [la, lb] = createMemoryLink({
    zone: za,
    zoneB: zb,
    delayMs: options.delayMs ?? 0.05,
    bandwidthBps: options.bandwidthBps ?? 0,
    queueLimit: 4096,
    segmentation: options.segmentation ?? 0,
    mtu: options.mtu,
    frameChains: options.frameChains,
  });
  const seed = options.seed ?? 1;
  let da: Device = options.faultsAtoB
    ? new FaultInjector(la, { seed, tx: options.faultsAtoB })
    : la;
  let db: Device = options.faultsBtoA
    ? new FaultInjector(lb, { seed: seed + 1, tx: options.faultsBtoA })
    : lb;
  const co = options.coalescing;
  if (co !== undefined && co !== false) db = new RxCoalescer(db, co === true ? {} : co);
  const coA = options.coalescingA ?? co;
  if (coA !== undefined && coA !== false) da = new RxCoalescer(da, coA === true ? {} : coA);
  if (options.wrapA !== undefined) da = options.wrapA(da);
  if (options.wrapB !== undefined) db = options.wrapB(db);
  const a = new Host(za, da, addrA);
  const b = new Host(zb, db, addrB);
  return { a, b, clock: new Clock([a, b]) };
}

/** The virtual clock over a set of hosts. */
export class Clock {
  now = 0;
  readonly hosts: Host[];
  constructor(hosts: Host[]) {
    this.hosts = hosts;
  }

  /**
   * Steps every host until `done()` holds or `maxMs` of virtual time pass,
   * jumping over idle stretches. Returns whether `done()` held.
   */
  runUntil(done: () => boolean, maxMs: number, stepMs = 0.01): boolean {
    const end = this.now + maxMs;
    for (let i = 0; i < 50_000_000 && this.now <= end; i++) {
      let moved = 0;
      for (const h of this.hosts) moved += h.step(this.now);
      if (done()) return true;
      if (moved === 0) {
        let next = Infinity;
        for (const h of this.hosts) next = Math.min(next, h.pollAt(this.now));
        // Idle: jump to the next thing any host waits for (or to the end).
        if (next <= this.now) this.now += stepMs;
        else this.now = Math.min(next, end + stepMs);
      }
    }
    return done();
  }

  /** Runs for `ms` of virtual time. */
  run(ms: number): void {
    const end = this.now + ms;
    this.runUntil(() => this.now >= end, ms + 1);
  }
}
