/**
 * The kernel bridge: a {@link Device} that wraps the NIC and an exception
 * path to the kernel (a DPDK `net_tap` port, in practice) and is itself the
 * device the stack sees. Each receive takes a burst from the NIC and sorts
 * it with the {@link Classifier}: the stack's TCP flows are returned to the
 * caller, everything else is handed to the kernel unchanged, in one batch,
 * and ARP goes to both (the same buffer, retained: no copy). Frames the
 * kernel sends out of the exception path leave through the NIC in the same
 * loop iteration. Everything the stack sends goes straight to the NIC.
 *
 * Both devices must share one zone (for DPDK: both ports configured on one
 * DpdkZone), so that a frame moves between them as a buffer handle.
 *
 * The stack tells the bridge whose flows to claim with {@link KernelBridge.serve};
 * until then every frame goes to the kernel.
 *
 * @example
 * ```ts
 * import { createHeapZone } from "../mem/heap.ts";
 * import { createMemoryLink } from "../device/memory/link.ts";
 * import { KernelBridge } from "./bridge.ts";
 * const zone = createHeapZone({ count: 1024 });
 * const [nic] = createMemoryLink({ zone, zoneB: createHeapZone({ count: 1024 }) });
 * const [tap] = createMemoryLink({ zone, zoneB: createHeapZone({ count: 1024 }) });
 * const bridge = new KernelBridge(nic, tap); // give it to createStack({ device: bridge, ... })
 * ```
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { DESC_WORDS, type Device, type DeviceOffloads, rxFlowMark } from "../device/device.ts";
import { TxBatch } from "../device/tx_batch.ts";
import type { MemZone } from "../mem/zone.ts";
import { Classifier, type FlowOwner, Path } from "./classifier.ts";

/** Options of a {@link KernelBridge}. */
export interface KernelBridgeOptions {
  /** Frames taken from the exception path per poll. Default 32. */
  burst?: number;
  /**
   * While the kernel is quiet, the exception path (a syscall per poll for
   * net_tap) is polled once every this many receives; while it sends, on
   * every one. Default 4.
   */
  exceptionPollEvery?: number;
}

/** Frames and bytes of one path. */
export interface PathCount {
  /** Frames. */
  frames: number;
  /** Bytes. */
  bytes: number;
}

/** What a bridge counts; see {@link KernelBridge.stats}. */
export interface BridgeStats {
  /** Frames from the NIC that went to the stack (ARP included). */
  toStack: PathCount;
  /** Frames from the NIC that the exception path took (ARP included). */
  toKernel: PathCount;
  /** Frames the kernel sent out of the exception path. */
  fromKernel: PathCount;
  /** Of those, the ones the NIC took. */
  fromKernelSent: PathCount;
  /** ARP frames given to both. */
  arpShared: number;
  /** Frames dropped, by reason. */
  drops: {
    /** Shorter than an Ethernet header, or outside its buffer. */
    runt: number;
    /** The exception path would not take them and the batch was full. */
    kernelBusy: number;
    /** The NIC would not take the kernel's frames and the batch was full. */
    nicBusy: number;
  };
  /** What the classifier saw, by kind. */
  classified: Record<string, number>;
}

/** The flows of a stack: its interface's address and MAC, its TCP layer's connections and listeners. */
class StackFlows implements FlowOwner {
  private readonly _iface: { readonly address: number; readonly mac: number };
  private readonly _tcp: { claim: FlowOwner["claim"] };
  constructor(
    iface: { readonly address: number; readonly mac: number },
    tcp: { claim: FlowOwner["claim"] },
  ) {
    this._iface = iface;
    this._tcp = tcp;
  }
  get address(): number {
    return this._iface.address;
  }
  get mac(): number {
    return this._iface.mac;
  }
  claim(localPort: number, remoteIp: number, remotePort: number): number {
    return this._tcp.claim(localPort, remoteIp, remotePort);
  }
}

const noOwner: FlowOwner = { address: 0, mac: -1, claim: () => -1 };

/** The device the stack sees when it shares the NIC with the kernel; see the module documentation. */
export class KernelBridge implements Device {
  readonly name: string;
  readonly zone: MemZone;
  readonly mac: Uint8Array;
  readonly mtu: number;
  readonly offloads: DeviceOffloads;
  /** The wrapped NIC. */
  readonly nic: Device;
  /** The exception path to the kernel. */
  readonly exception: Device;
  readonly classifier: Classifier;

  private readonly _toKernel: TxBatch;
  private readonly _toNic: TxBatch;
  private readonly _kdescs: Uint32Array;
  private readonly _burst: number;
  private readonly _pollEvery: number;
  private _sincePoll = 0;
  private _toStackFrames = 0;
  private _toStackBytes = 0;
  private _fromKernelFrames = 0;
  private _fromKernelBytes = 0;
  private _arpShared = 0;
  private _runts = 0;
  private _closed = false;

  constructor(nic: Device, exception: Device, options: KernelBridgeOptions = {}) {
    if (nic.zone !== exception.zone) {
      throw new ConfigError(
        "exception",
        `the exception path (${exception.name}) must use the NIC's zone (${nic.zone.name}), not ${exception.zone.name}: configure both ports on one zone`,
      );
    }
    const burst = options.burst ?? 32;
    const every = options.exceptionPollEvery ?? 4;
    if (!Number.isInteger(burst) || burst < 1 || burst > 512) {
      throw new ConfigError("burst", `expected 1..512, got ${burst}`);
    }
    if (!Number.isInteger(every) || every < 1) {
      throw new ConfigError("exceptionPollEvery", `expected an integer >= 1, got ${every}`);
    }
    this.nic = nic;
    this.exception = exception;
    this.name = `${nic.name}+${exception.name}`;
    this.zone = nic.zone;
    this.mac = nic.mac;
    this.mtu = nic.mtu;
    this.offloads = nic.offloads;
    this.classifier = new Classifier(noOwner);
    this._toKernel = new TxBatch(exception);
    this._toNic = new TxBatch(nic);
    this._burst = burst;
    this._pollEvery = every;
    this._kdescs = new Uint32Array(burst * DESC_WORDS);
  }

  /**
   * Claims the flows of a stack: TCP to `iface.address` (read on every frame:
   * the kernel may change it) that `tcp.claim`s. The stack calls this once it
   * exists; a {@link FlowOwner} of your own works too.
   */
  serve(
    iface: { readonly address: number; readonly mac: number },
    tcp: { claim: FlowOwner["claim"] },
  ): void {
    this.classifier.setOwner(new StackFlows(iface, tcp));
  }

  /**
   * Sends what the kernel sent, then receives a burst from the NIC: the
   * stack's frames land in `descs` (their count is returned), the kernel's
   * go to the exception path before this returns.
   */
  rx(descs: Uint32Array, max: number, now: number): number {
    if (++this._sincePoll >= this._pollEvery) this.pollKernel(now);
    else if (this._toNic.length > 0) this._toNic.flush(now);
    const n = this.nic.rx(descs, max, now);
    if (n === 0) {
      if (this._toKernel.length > 0) this._toKernel.flush(now);
      return 0;
    }
    const zone = this.zone;
    const bytes = zone.bytes;
    const room = zone.dataRoomSize;
    const toKernel = this._toKernel;
    const classifier = this.classifier;
    let s = 0;
    for (let k = 0; k < n; k++) {
      const i = k * DESC_WORDS;
      const h = descs[i];
      const w = descs[i + 1];
      const dataOff = w & 0xffff;
      const len = w >>> 16;
      const path = dataOff + len <= room
        ? classifier.classify(bytes, zone.dataStart(h) + dataOff, len)
        : Path.drop;
      if (path === Path.kernel) {
        toKernel.push(h, dataOff, len, 0, 0, now);
        continue;
      }
      if (path === Path.drop) {
        this._runts++;
        zone.release(h);
        continue;
      }
      if (path === Path.both) {
        // One buffer, two owners: the exception path and the stack each release their reference.
        zone.retain(h);
        toKernel.push(h, dataOff, len, 0, 0, now);
        this._arpShared++;
      }
      const mark = path === Path.stack ? classifier.mark : 0;
      const j = s * DESC_WORDS;
      if (mark > 0) {
        // The connection the classifier found: the stack's dispatch starts from it.
        descs[j + 2] = descs[i + 2] | rxFlowMark;
        descs[j + 3] = mark - 1;
      } else if (s !== k) {
        descs[j + 2] = descs[i + 2];
        descs[j + 3] = descs[i + 3];
      }
      descs[j] = h;
      descs[j + 1] = w;
      s++;
      this._toStackFrames++;
      this._toStackBytes += len;
    }
    if (toKernel.length > 0) toKernel.flush(now);
    return s;
  }

  /** Takes what the kernel sent out of the exception path and sends it on the NIC; returns the frames taken. */
  pollKernel(now: number): number {
    this._sincePoll = 0;
    const d = this._kdescs;
    const m = this.exception.rx(d, this._burst, now);
    const toNic = this._toNic;
    for (let k = 0; k < m; k++) {
      const i = k * DESC_WORDS;
      const w = d[i + 1];
      this._fromKernelFrames++;
      this._fromKernelBytes += w >>> 16;
      // Receive flags are not transmit requests: the kernel's frames leave as they are.
      toNic.push(d[i], w & 0xffff, w >>> 16, 0, 0, now);
    }
    if (toNic.length > 0) toNic.flush(now);
    // While the kernel talks, listen on every receive.
    if (m > 0) this._sincePoll = this._pollEvery;
    return m;
  }

  /** The stack's frames go straight to the NIC. */
  tx(descs: Uint32Array, n: number, now: number): number {
    return this.nic.tx(descs, n, now);
  }

  /** The NIC's, whose tx this is. */
  get txPending(): boolean {
    return this.nic.txPending === true;
  }

  pollAt(now: number): number {
    return Math.min(this.nic.pollAt(now), this.exception.pollAt(now));
  }

  /**
   * Frames the bridge moved that the stack never saw (to and from the
   * kernel): the loop counts them as work, so it does not nap while the
   * kernel's traffic flows.
   */
  get activity(): number {
    return this._fromKernelFrames + this._toKernel.sentFrames;
  }

  /** Frames and bytes per path, drops by reason, and what the classifier saw. */
  stats(): BridgeStats {
    const k = this._toKernel;
    const n = this._toNic;
    return {
      toStack: { frames: this._toStackFrames, bytes: this._toStackBytes },
      toKernel: { frames: k.sentFrames, bytes: k.sentBytes },
      fromKernel: { frames: this._fromKernelFrames, bytes: this._fromKernelBytes },
      fromKernelSent: { frames: n.sentFrames, bytes: n.sentBytes },
      arpShared: this._arpShared,
      drops: { runt: this._runts, kernelBusy: k.dropped, nicBusy: n.dropped },
      classified: this.classifier.counters.snapshot(),
    };
  }

  /** Releases the frames waiting in either direction, then closes both devices. */
  close(): void {
    if (this._closed) return;
    this._closed = true;
    this._toKernel.discard();
    this._toNic.discard();
    this.exception.close();
    this.nic.close();
  }
}
