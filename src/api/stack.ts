/**
 * `createStack(config)`: a device, the IPv4 and TCP layers over it, and the
 * run-to-completion loop, behind one object.
 *
 * @example
 * ```ts
 * import { createStack } from "luna-ts";
 * const stack = await createStack({ device: "af_packet:veth0", address: "198.18.0.2/24" });
 * stack.listen(7, () => ({ onData: (c) => { const b = new Uint8Array(4096); c.write(b.subarray(0, c.read(b))); } }));
 * await stack.run();
 * ```
 *
 * @module
 */
import { setImmediate } from "node:timers";
import type { Device } from "../device/device.ts";
import { DpdkDevice } from "../device/dpdk/device.ts";
import type { Dpdk } from "../device/dpdk/eal.ts";
import { openDpdkPort } from "../device/dpdk/open.ts";
import type { Port } from "../device/dpdk/port.ts";
import { FaultInjector } from "../device/fault/injector.ts";
import { PcapTap } from "../device/pcap/tap.ts";
import { parseDeviceSpec } from "../device/spec.ts";
import type { IpStats } from "../ip/counters.ts";
import { IpInterface, parseInterface } from "../ip/iface.ts";
import { IpLayer } from "../ip/ipv4_layer.ts";
import { type BridgeStats, KernelBridge } from "../kernel/bridge.ts";
import { type CoexistOptions, type Coexistence, startCoexistence } from "../kernel/coexist.ts";
import type { ControlStats } from "../kernel/control.ts";
import { Loop, LoopEvent, type LoopMode, type LoopStalls } from "../loop/loop.ts";
import type { ZoneAccounting } from "../mem/zone.ts";
import type { CongestionName } from "../tcp/congestion.ts";
import type { EcnMode } from "../tcp/config.ts";
import { tcpDefaults } from "../tcp/config.ts";
import { State } from "../tcp/state.ts";
import type { Tcb, TcpHandlers } from "../tcp/tcb.ts";
import { TcpLayer } from "../tcp/tcp_layer.ts";
import { ConfigError } from "../errors.ts";
import { ethernetHeaderLen, parseIpv4, parseMac, readMac } from "../wire/mod.ts";
import {
  coexistEnabled,
  parseStackConfig,
  receiveOffloadEnabled,
  synCookieRateDefault,
  idleSleepUsOf,
  txFlushFramesOf,
  type StackConfig,
  type StackConfigInput,
} from "./config.ts";
import { Connection, type ConnectionHandlers } from "./connection.ts";
import { type Capture, startControl, tapForControl } from "../control/attach.ts";

/** Everything a stack counts, as one object (the `netstat -s` of luna-ts). */
export interface StackStats {
  /** The loop's mode. */
  mode: LoopMode;
  /** The device's name. */
  device: string;
  /** IPv4, ARP and ICMP counters. */
  ip: IpStats;
  /** TCP counters, by name. */
  tcp: Record<string, number>;
  /** The zone's buffers: free and in use. */
  zone: ZoneAccounting;
  /** The DPDK port's counters, by name (DPDK devices only). */
  port?: Record<string, number>;
  /** Connections in the table, TIME-WAIT included. */
  connections: number;
  /** Connections in TIME-WAIT, kept as small records, and the bytes those records take. */
  timeWait: { count: number; bytes: number };
  /** The connection table's lookups, the slots they looked at, and those that took long (hash flooding). */
  table: { lookups: number; probes: number; longProbes: number };
  /**
   * Loop iterations, frames received, iterations that received frames, transmit bursts, the
   * stalls (time the loop was away while frames waited, and its yields and naps), and the idle
   * sleeps between polls (`idleSleepUs`).
   */
  loop: {
    iterations: number;
    framesIn: number;
    rxBursts: number;
    txBursts: number;
    stalls: LoopStalls;
    idleSleeps: number;
  };
  /** With a kernel bridge: frames and bytes per path, drops by reason (and, coexisting, the control plane's counts). */
  kernel?: BridgeStats & { tap?: string; control?: ControlStats; recovered?: string[]; ringBuffers?: number };
}

/**
 * A connection as the stack makes it: also what its TCP control block calls
 * (TcpHandlers), passing each event to the application's handlers inline or
 * through the loop's event queue. One object per connection, not two.
 */
class StackConnection extends Connection implements TcpHandlers {
  private readonly _loop: Loop;
  private _dataQueued = false;
  private _writableQueued = false;
  constructor(tcp: TcpLayer, tcb: Tcb, handlers: ConnectionHandlers, loop: Loop) {
    super(tcp, tcb, handlers, loop.clock);
    this._loop = loop;
  }
  /** @internal */
  onOpen(): void {
    if (this._loop.mode === "inline") this.handlers.onOpen?.(this);
    else this._loop.events.push(this, LoopEvent.open);
  }
  /** @internal */
  onData(): void {
    if (this._loop.mode === "inline") this.handlers.onData?.(this);
    else if (!this._dataQueued) {
      this._dataQueued = true;
      this._loop.events.push(this, LoopEvent.data);
    }
  }
  /** @internal */
  onEnd(): void {
    if (this._loop.mode === "inline") this.handlers.onEnd?.(this);
    else this._loop.events.push(this, LoopEvent.end);
  }
  /** @internal */
  onWritable(): void {
    if (this._loop.mode === "inline") this.handlers.onWritable?.(this);
    else if (!this._writableQueued) {
      this._writableQueued = true;
      this._loop.events.push(this, LoopEvent.writable);
    }
  }
  /** @internal */
  onClose(_t: Tcb, error: string | undefined): void {
    if (this._loop.mode === "inline") this.handlers.onClose?.(this, error);
    else this._loop.events.push(this, LoopEvent.close, error);
  }
  /** @internal */
  override _yieldSoon(): void {
    this._loop.yieldSoon();
  }
  /** @internal Batch delivery. */
  deliver(kind: number, error: string | undefined): void {
    const h = this.handlers;
    switch (kind) {
      case LoopEvent.open:
        h.onOpen?.(this);
        break;
      case LoopEvent.data:
        this._dataQueued = false;
        if (this.readable > 0) h.onData?.(this);
        break;
      case LoopEvent.end:
        h.onEnd?.(this);
        break;
      case LoopEvent.writable:
        this._writableQueued = false;
        h.onWritable?.(this);
        break;
      case LoopEvent.close:
        h.onClose?.(this, error);
        break;
    }
  }
}

/** A running stack; see the module documentation. */
export class Stack {
  /** The checked configuration. */
  readonly config: StackConfig;
  /** The device, with the fault injector and pcap tap wrapped around it when configured. */
  readonly device: Device;
  /** @internal The IPv4 layer. */
  readonly ip: IpLayer;
  /** @internal The TCP layer. */
  readonly tcp: TcpLayer;
  /** @internal The run-to-completion loop. */
  readonly loop: Loop;
  readonly #dpdk: Dpdk | undefined;
  readonly #port: Port | undefined;
  readonly #coexist: Coexistence | undefined;
  readonly #bridge: KernelBridge | undefined;
  #closed = false;
  #finalZone: ZoneAccounting | undefined;
  /** The port's and the kernel path's counters as they were when the device closed (set with #finalZone). */
  #finalPort: Record<string, number> | undefined;
  #finalKernel: ReturnType<Stack["stats"]>["kernel"];
  #control: { readonly path: string; close(): Promise<void> } | undefined;

  /**
   * @internal Use {@link createStack}. A {@link KernelBridge} as the device
   * makes the stack claim only its flows through it and leave ARP answers to
   * the kernel; `coexist` makes the kernel's configuration the stack's.
   */
  constructor(config: StackConfig, device: Device, dpdk?: Dpdk, port?: Port, coexist?: Coexistence) {
    this.config = config;
    this.device = device;
    this.#dpdk = dpdk;
    this.#port = port;
    this.#coexist = coexist;
    if (config.mtu !== undefined && device.mtu !== config.mtu) {
      throw new ConfigError("mtu", `${config.mtu} asked, but ${device.name} runs at ${device.mtu}`);
    }
    const mac = config.mac !== undefined ? parseMac(config.mac) : readMac(device.mac, 0);
    const iface = coexist !== undefined
      ? new IpInterface({ ...coexist.initial, mac })
      : parseInterface(config.address!, mac, config.gateway);
    const bridge = device instanceof KernelBridge ? device : undefined;
    this.#bridge = bridge;
    // Sharing the address with the kernel: the kernel answers ARP, the stack learns from it.
    this.ip = new IpLayer(device, iface, { answerArp: bridge === undefined });
    this.tcp = new TcpLayer(this.ip, {
      ...config.tcp,
      // A send buffer sized by hand stays that size unless a maximum is given too (as Linux's
      // SO_SNDBUF turns its autotuning off).
      ...(config.tcp?.sndBufBytes !== undefined && config.tcp.sndBufBytesMax === undefined
        ? { sndBufBytesMax: config.tcp.sndBufBytes }
        : {}),
      mss: config.tcp?.mss ?? mssFor(device),
      synCookiesPerSecond: synCookieRateDefault(config),
    });
    this.loop = new Loop(
      device,
      this.ip,
      this.tcp,
      config.mode,
      config.burst,
      txFlushFramesOf(config),
      idleSleepUsOf(config),
    );
    if (bridge !== undefined) bridge.serve(this.ip.iface, this.tcp);
    else this.ip.announce(performance.now());
    coexist?.follow(this.ip, () => performance.now());
  }

  /** The path of the control socket (config `control`), or undefined when there is none. */
  get controlSocket(): string | undefined {
    return this.#control?.path;
  }

  /** @internal Set by createStack when `control` is on; closed first by {@link close}. */
  _attachControl(control: { readonly path: string; close(): Promise<void> }): void {
    this.#control = control;
  }

  /** How handlers run: `batch` or `inline`. */
  get mode(): LoopMode {
    return this.loop.mode;
  }

  /**
   * Accepts connections on `port`; `onConnection` gets each one once
   * established and returns its handlers. Port 0 picks a free port of the
   * ephemeral range (`tcp.ephemeralPortMin..Max`), as node's `listen(0)`
   * does. Returns the port listened on.
   */
  listen(
    port: number,
    onConnection: (c: Connection) => ConnectionHandlers | void,
    options: {
      backlog?: number;
      congestion?: CongestionName;
      /** Connections to the port at most, half-open ones included; beyond, SYNs are refused with a RST. */
      maxConnections?: number;
      /** ECN of its connections (RFC 3168): see TcpConfig.ecn; default the stack's. */
      ecn?: EcnMode;
    } = {},
  ): number {
    const accept = (tcb: Tcb) => {
      const conn = new StackConnection(this.tcp, tcb, {}, this.loop);
      tcb.user = conn;
      const h = onConnection(conn);
      if (h !== undefined) conn.handlers = h;
      return conn;
    };
    if (port !== 0) {
      this.tcp.listen(port, accept, options.backlog, options.congestion, options.maxConnections, options.ecn);
      return port;
    }
    const { ephemeralPortMin: min, ephemeralPortMax: max } = this.tcp.config;
    const span = max - min + 1;
    const start = Math.floor(Math.random() * span);
    for (let i = 0; i < span; i++) {
      const p = min + (start + i) % span;
      try {
        this.tcp.listen(p, accept, options.backlog, options.congestion, options.maxConnections, options.ecn);
        return p;
      } catch (e) {
        if (!(e instanceof ConfigError && e.field === "port")) throw e;
      }
    }
    throw new ConfigError("port", `0 asks for a free port, and every port of ${min}..${max} is listened on`);
  }

  /** Stops accepting on `port`. */
  unlisten(port: number): void {
    this.tcp.unlisten(port);
  }

  /** Opens a connection to `address:port`. */
  connect(
    address: string,
    port: number,
    handlers: ConnectionHandlers = {},
    options: { localPort?: number; congestion?: CongestionName; noDelay?: boolean; ecn?: EcnMode } = {},
  ): Connection {
    const ip = parseIpv4(address);
    const now = performance.now();
    const tcb = this.tcp.connect(ip, port, {}, now, options.localPort ?? 0, options.congestion, options.ecn);
    if (options.noDelay !== undefined) tcb.noDelay = options.noDelay;
    const conn = new StackConnection(this.tcp, tcb, handlers, this.loop);
    tcb.user = conn;
    tcb.handlers = conn;
    return conn;
  }

  /** Every open connection. */
  connections(): Connection[] {
    const out: Connection[] = [];
    for (const t of this.tcp.each()) if (t.user instanceof Connection) out.push(t.user);
    return out;
  }

  /** One loop iteration now; returns the frames received. */
  poll(): number {
    return this.loop.poll(performance.now());
  }

  /** Polls until {@link stop} (or {@link close}). */
  run(): Promise<void> {
    return this.loop.run();
  }

  /** Ends {@link run}. */
  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Polls until `done()` holds or `timeoutMs` pass; returns whether it held. */
  async runUntil(done: () => boolean, timeoutMs: number): Promise<boolean> {
    const end = performance.now() + timeoutMs;
    for (let i = 0; !done() && performance.now() < end; i++) {
      this.poll();
      if ((i & 255) === 255) await new Promise((r) => setImmediate(r));
    }
    return done();
  }

  /** Everything counted so far. */
  stats(): StackStats {
    return {
      mode: this.loop.mode,
      device: this.device.name,
      ip: this.ip.counters.snapshot(),
      tcp: this.tcp.counters.snapshot(),
      zone: this.#zoneAccounting(),
      port: this.#finalZone !== undefined ? this.#finalPort : this.#portStats(),
      connections: this.tcp.connections,
      timeWait: { count: this.tcp.timeWaitCount, bytes: this.tcp.timeWaitBytes },
      table: this.tcp.tableStats(),
      loop: {
        iterations: this.loop.iterations,
        framesIn: this.loop.framesIn,
        rxBursts: this.loop.rxBursts,
        txBursts: this.ip.tx.bursts,
        stalls: { ...this.loop.stalls },
        idleSleeps: this.loop.idleSleeps,
      },
      kernel: this.#finalZone !== undefined ? this.#finalKernel : this.#coexist?.stats() ?? this.#bridge?.stats(),
    };
  }

  #portStats(): Record<string, number> | undefined {
    return this.#port ? { ...this.#port.stats() } as unknown as Record<string, number> : undefined;
  }

  /**
   * The zone as the stack and its application use it: while coexisting, the
   * buffers lent to the exception port's receive ring for as long as it runs
   * are left out of `capacity` and `inUse` (`kernel.ringBuffers` counts them);
   * so are those a `packet:` port holds to receive into (its `rxHeld`).
   */
  #zoneAccounting(): ZoneAccounting {
    if (this.device.zone.closed) return this.#finalZone!; // after close: as it was at the end
    const a = this.device.zone.accounting();
    const ring = (this.#coexist?.ringBuffers ?? 0) + (this.#port?.describe().rxHeld ?? 0);
    if (ring === 0) return a;
    return { ...a, capacity: a.capacity - ring, inUse: Math.max(0, a.inUse - ring) };
  }

  /**
   * Closes every connection (FIN), waits up to `graceMs` for them to finish,
   * aborts what is left, and releases the device (and DPDK's EAL).
   */
  async close(graceMs = 2000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#control?.close();
    await this.loop.stop();
    for (const c of this.connections()) c.close();
    // Waited for: connections that were open and are closing. Not TIME-WAIT (nothing left to
    // say), and not a handshake the application never saw: a SYN-RECEIVED one a flood left
    // (its peer never answers) would hold the whole grace. Walked in place: under a flood the
    // table is large, and this runs at every poll of the grace.
    const closing = () => {
      for (const t of this.tcp.each()) if (t.state >= State.established && t.state !== State.timeWait) return true;
      return false;
    };
    await this.runUntil(() => !closing(), graceMs);
    for (const c of this.connections()) if (c.tcb.state !== State.timeWait) c.abort();
    for (const t of [...this.tcp.each()]) this.tcp.destroy(t, undefined, performance.now());
    this.tcp.releaseUnread();
    this.poll();
    this.ip.neighbors.clear(performance.now());
    this.ip.tx.discard();
    this.device.zone.flush();
    this.#finalPort = this.#portStats();
    this.#finalKernel = this.#coexist?.stats() ?? this.#bridge?.stats();
    try {
      try {
        this.device.close();
      } finally {
        // Counted once the device has let go of what it held (frames a fault injector
        // delays, a link's queue): a buffer still in use now was never returned.
        this.#finalZone = this.#zoneAccounting();
      }
      this.#dpdk?.close();
    } finally {
      // After the ports: the exception interface is gone, the kernel's addresses go back.
      await this.#coexist?.close();
    }
  }
}

/**
 * Creates a stack from `config` (checked by a zod schema: a bad field is one
 * ConfigError naming it). A device spec string starts DPDK's EAL in
 * this process (once per process).
 */
export async function createStack(config: StackConfigInput): Promise<Stack> {
  const c = parseStackConfig(config);
  const capture: Capture = {};
  return startControl(await build(c, capture), capture);
}

async function build(c: StackConfig, capture: Capture): Promise<Stack> {
  if (typeof c.device !== "string") return new Stack(c, wrap(c, c.device, capture));
  const spec = parseDeviceSpec(c.device, "device", { mtu: c.mtu });
  const { dpdk, port, zone } = await openDpdkPort({
    spec,
    mtu: c.mtu,
    buffers: c.buffers,
    promiscuous: c.mac !== undefined,
    checksums: c.checksums,
    segmentation: c.tcp?.segmentationOffload ?? tcpDefaults.segmentationOffload,
    receiveOffload: receiveOffloadEnabled(c),
    eal: c.eal,
  });
  let coexist: Coexistence | undefined;
  try {
    const device = new DpdkDevice(port, 0);
    if (!coexistEnabled(c)) return new Stack(c, wrap(c, device, capture), dpdk, port);
    coexist = startCoexistence({
      dpdk,
      zone,
      nic: wrap(c, device, capture),
      nicIface: spec.iface,
      address: c.address,
      gateway: c.gateway,
      mac: c.mac !== undefined ? parseMac(c.mac) : undefined,
      ports: [
        c.tcp?.ephemeralPortMin ?? tcpDefaults.ephemeralPortMin,
        c.tcp?.ephemeralPortMax ?? tcpDefaults.ephemeralPortMax,
      ],
      options: typeof c.coexist === "object" ? c.coexist as CoexistOptions : {},
    });
    return new Stack(c, coexist.bridge, dpdk, port, coexist);
  } catch (e) {
    try {
      dpdk.close();
    } catch {
      // the original error says more
    }
    await coexist?.close().catch(() => {});
    throw e;
  }
}

/**
 * The MSS to announce on `device` (RFC 9293 3.7.1: the MTU less 40 bytes of
 * IPv4 and TCP header), no more than a frame in one of its buffers allows
 * unless the device chains buffers for longer frames.
 */
function mssFor(device: Device): number {
  const zone = device.zone;
  if (device.offloads.frameChains) return device.mtu - 40;
  return Math.min(device.mtu, zone.dataRoomSize - zone.headroom - ethernetHeaderLen) - 40;
}

function wrap(c: StackConfig, device: Device, capture: Capture): Device {
  let d = tapForControl(c, device, capture);
  if (c.faults !== undefined) {
    const { seed, direction = "both", ...faults } = c.faults;
    d = new FaultInjector(d, {
      seed,
      rx: direction !== "tx" ? faults : undefined,
      tx: direction !== "rx" ? faults : undefined,
    });
  }
  // Frames are stamped with wall-clock time: the loop's clock counts from process start.
  if (c.pcap !== undefined) d = new PcapTap(d, { path: c.pcap, epochMs: Date.now() - performance.now() });
  return d;
}
