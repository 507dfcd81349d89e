/**
 * The configuration of a stack, checked by a zod schema: a bad value gets
 * one clear {@link ConfigError} naming the field.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { z } from "zod";
import type { Device } from "../device/device.ts";
import type { FaultOptions } from "../device/fault/_path.ts";
import { memifBufferMax, mtuOneBufferMax, parseDeviceSpec } from "../device/spec.ts";
import type { CoexistOptions } from "../kernel/coexist.ts";
import type { LoopMode } from "../loop/loop.ts";
import type { TcpConfig } from "../tcp/config.ts";
import { ConfigError } from "../errors.ts";
import { parseInterface } from "../ip/iface.ts";
import { parseMac } from "../wire/mod.ts";

const probability = z.number().min(0).max(1);
const faultSchema = z.object({
  seed: z.number().int(),
  loss: probability.optional(),
  duplicate: probability.optional(),
  reorder: probability.optional(),
  reorderFrames: z.number().int().min(1).max(1024).optional(),
  reorderMs: z.number().min(0).max(60_000).optional(),
  corrupt: probability.optional(),
  delayMs: z.number().min(0).max(60_000).optional(),
  jitterMs: z.number().min(0).max(60_000).optional(),
  bandwidthBps: z.number().min(0).optional(),
  ceMark: probability.optional(),
  burstLoss: probability.optional(),
  burstMs: z.number().min(0).max(60_000).optional(),
  ceThresholdBytes: z.number().int().min(0).optional(),
  queueBytesMax: z.number().int().min(0).optional(),
  direction: z.enum(["both", "rx", "tx"]).optional(),
}).strict();

const ms = (max: number) => z.number().min(0).max(max);
const tcpSchema = z.object({
  mss: z.number().int().min(88).max(65495),
  rcvBufBytes: z.number().int().min(4096).max(1 << 30),
  sndBufBytes: z.number().int().min(4096).max(1 << 30),
  sndBufBytesMax: z.number().int().min(4096).max(1 << 30),
  windowScaling: z.boolean(),
  timestamps: z.boolean(),
  sack: z.boolean(),
  congestion: z.enum(["cubic", "newreno", "dctcp", "bbr"]),
  lossDetection: z.enum(["rack", "rfc6675"]),
  ecn: z.enum(["on", "passive", "off"]),
  hystart: z.boolean(),
  frto: z.boolean(),
  rtoMinMs: ms(60_000).refine((v) => v > 0, "must be above 0"),
  rtoMaxMs: ms(600_000).refine((v) => v > 0, "must be above 0"),
  rtoInitialMs: ms(60_000).refine((v) => v > 0, "must be above 0"),
  maxRetransmits: z.number().int().min(1).max(100),
  synRetries: z.number().int().min(1).max(100),
  delayedAckMs: ms(500),
  timeWaitMs: ms(600_000),
  noDelay: z.boolean(),
  keepalive: z.boolean(),
  keepaliveIdleMs: ms(1e9),
  keepaliveIntervalMs: ms(1e9),
  keepaliveProbes: z.number().int().min(1).max(1000),
  reassemblyBytesMax: z.number().int().min(0),
  reassemblyStackBytesMax: z.number().int().min(0),
  backlog: z.number().int().min(1).max(1 << 20),
  synCookies: z.boolean(),
  synCookiesPerPoll: z.union([z.number().int().min(1).max(1 << 20), z.literal(Infinity)]),
  synCookiesPerSecond: z.union([z.number().int().min(1).max(1e9), z.literal(Infinity)]),
  challengeAckPerSecond: z.number().int().min(1),
  segmentationOffload: z.boolean(),
  ephemeralPortMin: z.number().int().min(1).max(65535),
  ephemeralPortMax: z.number().int().min(1).max(65535),
  maxConnections: z.number().int().min(1).max(1 << 24),
  userTimeoutMs: z.number().int().min(0).max(86_400_000),
}).partial().strict();

const ealSchema = z.object({
  prefix: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "1 to 64 of letters, digits, _ . -").optional(),
  memoryMb: z.number().int().min(16).max(1 << 20).optional(),
  hugepages: z.boolean().optional(),
  lcores: z.string().optional(),
  logLevel: z.string().optional(),
  extra: z.array(z.string()).optional(),
}).strict();

const coexistSchema = z.union([
  z.boolean(),
  z.object({
    tap: z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, "an interface name of 1 to 15 letters, digits, _ . -").optional(),
    pollMs: z.number().min(10).max(3_600_000).optional(),
    guard: z.boolean().optional(),
    reservePorts: z.boolean().optional(),
    exceptionPollEvery: z.number().int().min(1).max(1 << 20).optional(),
  }).strict(),
]);

const controlSchema = z.union([
  z.boolean(),
  z.object({
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "1 to 64 of letters, digits, _ . -").optional(),
    dir: z.string().min(1).refine((d) => d.startsWith("/"), "expected an absolute path").optional(),
  }).strict(),
]);

/** The longest MTU: a frame of 65535 bytes (memif's longest; an IPv4 packet may be 14 bytes longer). */
const mtuMax = memifBufferMax - 14;

const mtuRange = "expected an integer 576..65521 (bytes of IP packet; 1500 is Ethernet's, 9000 jumbo " +
  "frames, 65521 a 65535-byte frame)";


const isDevice = (v: unknown): v is Device =>
  typeof v === "object" && v !== null && typeof (v as Device).rx === "function" &&
  typeof (v as Device).tx === "function" && "zone" in (v as object);

/** EAL settings of a stack on a DPDK device (they hold for the whole process: see `Dpdk.share`). */
export interface EalSettings {
  /** `--file-prefix`, 1 to 64 of letters, digits, `_ . -`; default `luna-<pid>`. */
  prefix?: string;
  /** Megabytes of memory to reserve (`-m`), 16..1048576; default 256. */
  memoryMb?: number;
  /**
   * Use hugepages (taken in memory, one file per segment list); by default
   * `--no-huge` (one memfd). Either is shareable, as
   * `memif:PATH,client,zero-copy` needs.
   */
  hugepages?: boolean;
  /** `--lcores` mapping; by default lcore 0 may run on every CPU. */
  lcores?: string;
  /** DPDK log level (`--log-level`); default "notice". */
  logLevel?: string;
  /** Arguments appended as they are. */
  extra?: string[];
}

/** Faults a stack injects on its device, both directions (see FaultInjector): the seed is required. */
export interface FaultSettings extends FaultOptions {
  /** Seed of the injector's random generator: the same seed gives the same faults. */
  seed: number;
  /**
   * The frames that take the faults: "both" (default), "tx" (sent: a queue on
   * the way out, as a switch port's) or "rx" (received).
   */
  direction?: "both" | "rx" | "tx";
}

/** What {@link createStack} takes: see {@link stackConfigSchema} for each field's meaning and range. */
export interface StackConfigInput {
  /** A DPDK device spec (`af_packet:veth0`, `memif:/run/m.sock,server`, ...) or a device object. */
  device: string | Device;
  /** Our address and prefix, `198.18.0.2/24`; required unless `coexist` takes it from the kernel. */
  address?: string;
  /** Default gateway, on the subnet. */
  gateway?: string;
  /** MAC address to use in place of the device's. */
  mac?: string;
  /** The MTU, 576..9000; default: the device's own. */
  mtu?: number;
  /** TCP/IP checksums on a DPDK link: "auto" (default) or "always". */
  checksums?: "auto" | "always";
  /**
   * Receive coalescing on a DPDK link (LRO, else the shim's GRO): default on for net_memif
   * when no fault injector, pcap tap or kernel bridge wraps the port.
   */
  receiveOffload?: boolean;
  /** "batch" (default): events after each burst; "inline": handlers inside the receive path. */
  mode?: LoopMode;
  /** Packet buffers in the zone, 256..4194304; default 8191. */
  buffers?: number;
  /** Frames per receive burst, 1..512; default 64. */
  burst?: number;
  /**
   * Answers sent during a receive burst that did not fill leave once this many wait, 0..512
   * (0: at the end of the burst's poll only). Lets a peer in another process start on the first
   * answers of a burst while the rest are processed. Default 8, except on af_packet, af_xdp and
   * packet: (0), where each transmit burst is a system call.
   */
  txFlushFrames?: number;
  /**
   * After this many µs without a received frame the loop sleeps about 0.1 ms between polls
   * (never past its next timer), giving the CPU to other tasks, until frames come again;
   * 0..100000, 0: it polls without a break (until its 50 ms idle naps). Default 50 on af_packet,
   * af_xdp and packet:, where the peers are the kernel's and share the machine's CPUs; 0 elsewhere.
   */
  idleSleepUs?: number;
  /** EAL settings (DPDK devices). */
  eal?: EalSettings;
  /** TCP settings. */
  tcp?: Partial<TcpConfig>;
  /** Faults injected on the device (both directions unless `direction` says one), seeded. */
  faults?: FaultSettings;
  /** Write every frame to this pcap file (its directory must exist). */
  pcap?: string;
  /** Share the NIC and the address with the kernel: `true`, `false`, or settings (which turn it on). */
  coexist?: boolean | CoexistOptions;
  /** A control socket for the `luna` command: `true`, or settings (which turn it on); default off. */
  control?: boolean | ControlSettings;
}

/** Where a stack's control socket goes (`control` in its config): `<dir>/<name>.sock`. */
export interface ControlSettings {
  /** 1 to 64 of letters, digits, `_ . -`; default `luna-<pid>`. */
  name?: string;
  /** An absolute path; default `$LUNA_CONTROL_DIR`, else `/run/luna`. */
  dir?: string;
}

/** A checked configuration: {@link StackConfigInput} with its defaults filled in. */
export interface StackConfig extends StackConfigInput {
  /** TCP/IP checksums on a DPDK link. */
  checksums: "auto" | "always";
  /** The loop's mode. */
  mode: LoopMode;
  /** Packet buffers in the zone. */
  buffers: number;
  /** Frames per receive burst. */
  burst: number;
}

/** The schema of {@link StackConfig}. */
export const stackConfigSchema: z.ZodType<StackConfig, z.ZodTypeDef, StackConfigInput> = z.object({
  /** A DPDK device spec (`af_packet:veth0`, `memif:/run/m.sock,server`, ...) or a device object. */
  device: z.union([
    z.string().superRefine((s, ctx) => {
      try {
        parseDeviceSpec(s);
      } catch (e) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: (e as Error).message.replace(/^device: /, "") });
      }
    }),
    z.custom<Device>(isDevice, "expected a device spec string or a Device object"),
  ]),
  /**
   * Our address and prefix, `198.18.0.2/24`. Required, except with `coexist`,
   * where the kernel's configuration is the source and this address, if
   * given, is added to it when missing and preferred when there are several.
   */
  address: z.string().superRefine((s, ctx) => {
    try {
      parseInterface(s, 0);
    } catch (e) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: (e as Error).message.replace(/^[a-zA-Z]+: /, "") });
    }
  }).optional(),
  /** Default gateway, on the subnet. */
  gateway: z.string().regex(/^\d{1,3}(\.\d{1,3}){3}$/, "expected a dotted quad").optional(),
  /** MAC address to use in place of the device's. */
  mac: z.string().refine((s) => {
    try {
      parseMac(s);
      return true;
    } catch {
      return false;
    }
  }, "expected a MAC address like 02:00:00:00:00:01").optional(),
  /**
   * The MTU, bytes of IP packet: 576 (the least every IPv4 host takes) to
   * 65521 (a frame of 65535 bytes, the longest a memif slot holds). Default: the device's own (1500 for DPDK
   * ports). With a DPDK device the port runs at it (the PMD must accept it;
   * net_memif always does, and both ends of a memif must use the same
   * value), received frames longer than the MTU are dropped and counted
   * (`port.rxOversizeDropped`), and TCP announces an MSS of `mtu - 40` unless
   * `tcp.mss` says otherwise. Up to 9000 (jumbo frames) the packet buffers
   * are sized to hold a whole frame. Above 9000 only on net_memif, a link
   * with no wire like the kernel's loopback (whose MTU is 65536): its frames
   * go and come as chains of 9 KiB buffers, so that a 64 KiB write leaves
   * in two segments instead of 46 (or 8 at 9000); not with `pcap`, whose tap
   * takes frames of one buffer (the fault injector takes a chain as one frame).
   */
  mtu: z.number({ invalid_type_error: mtuRange }).int(mtuRange).min(576, mtuRange).max(mtuMax, mtuRange)
    .optional(),
  /**
   * TCP/IP checksums on a DPDK link. "auto": none are computed or verified
   * where the link needs none, which is net_memif (shared memory between two
   * processes on one host: the trust of a veth, where the kernel computes and
   * verifies none; both ends of a memif must use the same setting); a NIC's
   * offloads do them where the port has them; elsewhere (af_packet, af_xdp)
   * the shim computes and verifies them over each burst, in C. "always":
   * computed and verified on every link, memif too.
   */
  checksums: z.enum(["auto", "always"]).default("auto"),
  /**
   * Receive coalescing on a DPDK link: in-order TCP segments of one flow
   * that arrive in one receive burst reach TCP as one chained segment, made
   * by the port's LRO where it offers it, elsewhere by the shim (DPDK's GRO
   * library). Default: on where the device is net_memif and no fault
   * injector, pcap tap or kernel bridge wraps the port (they take frames of
   * one buffer); true there is a ConfigError.
   */
  receiveOffload: z.boolean().optional(),
  /** batch: events after each burst; inline: handlers run inside the receive path. */
  mode: z.enum(["batch", "inline"]).default("batch"),
  /** Packet buffers in the zone. */
  buffers: z.number().int().min(256).max(1 << 22).default(8191),
  /** Frames per receive burst. */
  burst: z.number().int().min(1).max(512).default(64),
  /** Answers that leave before the end of a burst's poll (0: none); default: see {@link txFlushFramesOf}. */
  txFlushFrames: z.number().int().min(0).max(512).optional(),
  /** Idle time after which the loop sleeps between polls, µs (0: never); default: see {@link idleSleepUsOf}. */
  idleSleepUs: z.number().int().min(0).max(100_000).optional(),
  /** EAL settings (DPDK devices). */
  eal: ealSchema.optional(),
  /** TCP settings. */
  tcp: tcpSchema.optional(),
  /** Faults injected on the device (both directions), seeded. */
  faults: faultSchema.optional(),
  /** Write every frame to this pcap file (its directory must exist). */
  pcap: z.string().min(1).refine((p) => existsSync(dirname(resolve(p))), (p) => ({
    message: `the directory of '${p}' does not exist`,
  })).optional(),
  /**
   * Share the NIC and the address with the kernel (src/kernel): the stack
   * serves only its TCP flows, the kernel gets everything else through an
   * exception interface, and the kernel's configuration of that interface
   * is the stack's. Default: on for af_packet, af_xdp and PCI devices, off
   * otherwise. `true`, `false`, or settings (which turn it on).
   */
  coexist: coexistSchema.optional(),
  /**
   * A control socket for the `luna` command (`luna ls`, `stats`, `conns`,
   * `capture`, `ping`, `connect`; src/control): a Unix socket, owner-only, at
   * `<dir>/<name>.sock`. `true`, or settings (which turn it on): `name`
   * (default `luna-<pid>`), `dir` (default `$LUNA_CONTROL_DIR`, else
   * `/run/luna`). Default: off (`luna serve` turns it on).
   */
  control: controlSchema.optional(),
}).strict();


/** Checks a configuration; throws one {@link ConfigError} naming the first bad field. */
export function parseStackConfig(input: unknown): StackConfig {
  const r = stackConfigSchema.safeParse(input);
  if (r.success) {
    const c = r.data;
    const coexist = coexistEnabled(c);
    if (coexist && typeof c.device !== "string" && c.coexist !== undefined) {
      throw new ConfigError("coexist", "needs a DPDK device spec (af_packet:IFACE, af_xdp:IFACE, a PCI address, ...)");
    }
    if (c.mtu !== undefined && c.mtu > mtuOneBufferMax) {
      // Frames longer than a jumbo frame are chains of buffers: memif's PMD makes and takes them.
      const kind = typeof c.device === "string" ? parseDeviceSpec(c.device).kind : undefined;
      if (kind === "af_packet" || kind === "af_xdp" || kind === "packet") {
        throw new ConfigError(
          "mtu",
          `${c.mtu} on ${kind}:IFACE: its frames go in one buffer each, at most ${mtuOneBufferMax}; ` +
            "MTUs above that are for memif",
        );
      }
      if (c.pcap !== undefined) {
        throw new ConfigError(
          "mtu",
          `${c.mtu} with pcap: the pcap tap takes frames of one buffer, at most ${mtuOneBufferMax}`,
        );
      }
    }
    if (c.mtu !== undefined && c.tcp?.mss !== undefined && c.tcp.mss > c.mtu - 40) {
      throw new ConfigError("tcp.mss", `${c.tcp.mss} does not fit the MTU: at most mtu - 40 = ${c.mtu - 40}`);
    }
    if (coexist && c.mtu !== undefined && c.mtu !== 1500) {
      // The exception port (net_tap) runs at its own MTU, 1500: the kernel's longer frames would be dropped there.
      throw new ConfigError("mtu", `${c.mtu} with coexist: the kernel's exception path runs at 1500 only`);
    }
    if (typeof c.device === "string" && parseDeviceSpec(c.device).kind === "packet") {
      // The kernel hands a packet: port its GSO packets whole: they arrive coalesced, always.
      if (coexist) {
        throw new ConfigError(
          "coexist",
          "not with packet:IFACE (its 64 KB packets do not cross the kernel bridge's net_tap): use af_packet:IFACE " +
            "to share the interface with the kernel",
        );
      }
      if (c.receiveOffload === false) {
        throw new ConfigError("receiveOffload", "false with packet:IFACE: the kernel hands it GSO packets whole");
      }
      if (c.faults !== undefined || c.pcap !== undefined) {
        throw new ConfigError(
          c.faults !== undefined ? "faults" : "pcap",
          "not with packet:IFACE: the fault injector and the pcap tap take frames of one buffer",
        );
      }
    }
    if (c.receiveOffload === true && (coexist || c.faults !== undefined || c.pcap !== undefined)) {
      throw new ConfigError(
        "receiveOffload",
        "true with coexist, faults or pcap: the kernel bridge, the fault injector and the pcap tap take " +
          "frames of one buffer",
      );
    }
    if (c.address === undefined) {
      if (!coexist) throw new ConfigError("address", "required (or coexist: true, to take it from the kernel)");
      if (c.gateway !== undefined) throw new ConfigError("gateway", "needs an address");
    }
    if (c.gateway !== undefined && c.address !== undefined) {
      try {
        parseInterface(c.address, 0, c.gateway);
      } catch (e) {
        throw new ConfigError("gateway", (e as Error).message.replace(/^[a-zA-Z]+: /, ""));
      }
    }
    return c;
  }
  const issue = r.error.issues[0];
  const field = issue.path.length > 0 ? issue.path.join(".") : "config";
  let message = issue.message;
  if (issue.code === z.ZodIssueCode.unrecognized_keys) {
    throw new ConfigError(
      [...issue.path, issue.keys[0]].join("."),
      `unknown setting (known: ${Object.keys(shapeAt(issue.path)).join(", ")})`,
    );
  }
  if (issue.code === z.ZodIssueCode.invalid_type && issue.received === "undefined") message = "required";
  if (field === "device" && issue.code === z.ZodIssueCode.invalid_union) {
    const got = (input as { device?: unknown } | null)?.device;
    message =
      `expected a device spec string (af_packet:IFACE, af_xdp:IFACE, memif:/path.sock[,server|client], ` +
      `a PCI address, or eal:DEVARGS) or a Device object (createMemoryLink), got ${
        got === null
          ? "null"
          : Array.isArray(got)
          ? "an array"
          : typeof got === "object"
          ? "an object"
          : typeof got
      }${typeof got === "number" || typeof got === "boolean" ? ` ${got}` : ""}`;
  }
  throw new ConfigError(field, message);
}

/** Whether a stack on a DPDK port coalesces received segments (see `receiveOffload`). */
export function receiveOffloadEnabled(c: StackConfig): boolean {
  if (c.receiveOffload !== undefined) return c.receiveOffload;
  if (typeof c.device !== "string" || coexistEnabled(c)) return false;
  if (c.faults !== undefined || c.pcap !== undefined) return false;
  const kind = parseDeviceSpec(c.device).kind;
  return kind === "memif" || kind === "packet";
}

/**
 * The early transmit of `c` (`txFlushFrames`): as given, else 8, and 0 on af_packet, af_xdp and
 * packet:, where every transmit burst costs a system call (a send to the kernel, a wake-up of its ring).
 */
export function txFlushFramesOf(c: StackConfig): number {
  if (c.txFlushFrames !== undefined) return c.txFlushFrames;
  if (typeof c.device !== "string") return 8;
  const kind = parseDeviceSpec(c.device).kind;
  return kind === "af_packet" || kind === "af_xdp" || kind === "packet" ? 0 : 8;
}

/**
 * The idle time after which the loop of `c` sleeps between polls (`idleSleepUs`), µs: as given,
 * else 50 on af_packet, af_xdp and packet: and 0 (never) elsewhere. Over those the peers are the
 * kernel's, on the machine's own CPUs: a loop that polls without a break while it waits for
 * them spends its share of the CPU on empty polls, and then waits behind the CPU's other tasks
 * when their frames come (see Loop.run).
 */
export function idleSleepUsOf(c: StackConfig): number {
  if (c.idleSleepUs !== undefined) return c.idleSleepUs;
  if (typeof c.device !== "string") return 0;
  const kind = parseDeviceSpec(c.device).kind;
  return kind === "af_packet" || kind === "af_xdp" || kind === "packet" ? 50 : 0;
}

/**
 * Whether a configuration shares the NIC with the kernel: as `coexist` says,
 * or by default where the device is a real NIC (PCI) or sits on a kernel
 * interface (af_packet, af_xdp).
 */
export function coexistEnabled(c: StackConfig): boolean {
  if (c.coexist !== undefined) return c.coexist !== false;
  if (typeof c.device !== "string") return false;
  const kind = parseDeviceSpec(c.device).kind;
  return kind === "af_packet" || kind === "af_xdp" || kind === "pci";
}

function shapeAt(path: (string | number)[]): Record<string, unknown> {
  // deno-lint-ignore no-explicit-any
  let s: any = stackConfigSchema;
  // Optional and default wrap a schema; of a union (`coexist`), the object member has the keys.
  // deno-lint-ignore no-explicit-any
  const unwrap = (x: any) => {
    while (x?._def?.innerType) x = x._def.innerType;
    // deno-lint-ignore no-explicit-any
    return x?._def?.options?.find((o: any) => o?.shape !== undefined) ?? x;
  };
  for (const p of path) s = unwrap(s)?.shape?.[p];
  return unwrap(s)?.shape ?? {};
}

/** SYN cookies answered per second where {@link synCookieRateDefault} bounds them. */
export const synCookieRateKernelPath = 5000;

/**
 * `tcp.synCookiesPerSecond` where the configuration leaves it out. On a
 * device that sits on a kernel interface (af_packet, af_xdp, packet:) every
 * frame the stack sends runs the kernel's transmit path, and on a veth the
 * receiving side's too, on the stack's own CPU: under a flood the cookie
 * SYN-ACKs took about a third of it (bench/synflood_where.ts), so they are
 * bounded there ({@link synCookieRateKernelPath} a second while connections
 * are established). On a NIC or memif a SYN-ACK is one more descriptor, and
 * answering every SYN, as Linux does, keeps connecting under a flood fast.
 */
export function synCookieRateDefault(c: StackConfig): number {
  if (c.tcp?.synCookiesPerSecond !== undefined) return c.tcp.synCookiesPerSecond;
  if (typeof c.device !== "string") return Infinity;
  const kind = parseDeviceSpec(c.device).kind;
  return kind === "af_packet" || kind === "af_xdp" || kind === "packet" ? synCookieRateKernelPath : Infinity;
}
