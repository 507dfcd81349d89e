/**
 * DPDK's environment abstraction layer (EAL), started once per process, and
 * the entry point to its ports and pools.
 *
 * @module
 */
import { readFileSync, rmSync } from "node:fs";
import { cString, openShim, type OpenShimOptions, readString, type Shim } from "../../../ffi/mod.ts";
import { ConfigError, EalError, errnoName, NoSuchPortError } from "../../errors.ts";
import { DpdkZone, type DpdkZoneOptions } from "./pool.ts";
import { findPort, Port } from "./port.ts";

/** EAL settings that luna-ts turns into arguments; see {@link ealArgs}. */
export interface EalOptions {
  /** `--file-prefix`: unique per process that runs at the same time. Required. */
  prefix: string;
  /** Virtual devices (`--vdev`), e.g. `net_memif0,role=server,socket=/tmp/m.sock`. */
  vdevs?: string[];
  /** Megabytes of memory to reserve (`-m`). Default 256. */
  memoryMb?: number;
  /**
   * Use hugepages, taken in memory (`--in-memory`: no files left in
   * hugetlbfs); by default `--no-huge`. Either way the memory is one file
   * per segment list (`--single-file-segments`; under `--no-huge`, one
   * memfd), so that a device can share the pools' memory with another
   * process (memif's zero-copy client).
   */
  hugepages?: boolean;
  /** Probe PCI devices; by default `--no-pci`. */
  pci?: boolean;
  /** `--lcores` mapping; by default lcore 0 may run on every CPU. */
  lcores?: string;
  /** DPDK log level (`--log-level`); default "notice". */
  logLevel?: string;
  /** Arguments appended as they are. */
  extra?: string[];
}

/** Builds the EAL argument list (argv[0] included) for `options`. */
export function ealArgs(options: EalOptions): string[] {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(options.prefix ?? "")) {
    throw new ConfigError(
      "prefix",
      `expected 1 to 64 of [A-Za-z0-9_.-], got ${JSON.stringify(options.prefix)}`,
    );
  }
  const mem = options.memoryMb ?? 256;
  if (!Number.isInteger(mem) || mem < 16 || mem > 1 << 20) {
    throw new ConfigError("memoryMb", `expected an integer 16..1048576, got ${mem}`);
  }
  const args = ["luna", "--file-prefix", options.prefix, "-m", String(mem), "--no-telemetry"];
  // Memory another process can map: a device that shares it (memif's zero-copy client) hands its
  // peer one descriptor for each segment list, which covers the list's pages only when they are one
  // file. --no-huge memory is one memfd already, but memif refuses zero-copy unless the flag is given.
  if (options.hugepages) args.push("--in-memory", "--single-file-segments");
  else args.push("--no-huge", "--single-file-segments");
  if (!options.pci) args.push("--no-pci");
  args.push("--lcores", options.lcores ?? `0@(${allowedCpus()})`);
  args.push(`--log-level=${options.logLevel ?? "notice"}`);
  for (const v of options.vdevs ?? []) args.push(`--vdev=${v}`);
  args.push(...(options.extra ?? []));
  return args;
}

/**
 * The CPUs this process may run on, in the EAL's cpuset syntax ("1", "0-3,6"):
 * its affinity as `taskset` or a cpuset cgroup left it (/proc/self/status), so
 * that the EAL's main lcore, by default free to run on every one of them,
 * never moves the stack onto a CPU it was kept off.
 */
function allowedCpus(): string {
  let list: string | undefined;
  try {
    list = /^Cpus_allowed_list:\s*([\d,-]+)\s*$/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
  } catch {
    list = undefined; // no /proc: every CPU the runtime counts
  }
  return list ?? `0-${Math.max(0, cpuCount() - 1)}`;
}

function cpuCount(): number {
  // deno-lint-ignore no-explicit-any
  const nav = (globalThis as any).navigator;
  return typeof nav?.hardwareConcurrency === "number" ? nav.hardwareConcurrency : 1;
}

let running: Dpdk | undefined;
/** The EAL that stacks share (see {@link Dpdk.share}), once started. */
let shared: { shim: Shim; args: string[] } | undefined;

/** `devargs` with its device renamed to the first free index of its driver (`net_memif1`, ...). */
function uniqueDevargs(shim: Shim, devargs: string): string {
  const m = /^([a-z_]+?)(\d+)(,.*)?$/.exec(devargs);
  if (m === null) return devargs;
  const taken = (name: string) => {
    const b = cString(name);
    return shim.symbols.luna_port_find(b, b.length) >= 0;
  };
  if (!taken(`${m[1]}${m[2]}`)) return devargs;
  for (let i = 0; i < 1024; i++) if (!taken(`${m[1]}${i}`)) return `${m[1]}${i}${m[3] ?? ""}`;
  return devargs;
}

/**
 * Why DPDK was refused (rc EPERM or EACCES, or any failure of a process that
 * is not root): the user, or the capabilities root lacks here. Empty when
 * neither explains it.
 */
export function permissionHint(rc: number): string {
  let status = "";
  try {
    status = readFileSync("/proc/self/status", "utf8");
  } catch {
    return "";
  }
  const uid = Number(/^Uid:\s+(\d+)\s+(\d+)/m.exec(status)?.[2] ?? "0");
  if (uid !== 0) {
    return `this process runs as uid ${uid}, not root: DPDK's devices need root, or the capabilities ` +
      `CAP_NET_RAW, CAP_NET_ADMIN, CAP_IPC_LOCK and CAP_SYS_ADMIN`;
  }
  if (rc !== -1 && rc !== -13) return "";
  const eff = BigInt("0x" + (/^CapEff:\s+([0-9a-f]+)/m.exec(status)?.[1] ?? "0"));
  const missing = (Object.entries(capabilities) as [string, number][])
    .filter(([, bit]) => (eff & (1n << BigInt(bit))) === 0n).map(([name]) => name);
  return missing.length > 0 ? `root here lacks ${missing.join(", ")}: DPDK's devices need them` : "";
}

/** `message`, led by what {@link permissionHint} says for `rc`. */
function withHint(message: string, rc: number): string {
  const hint = permissionHint(rc);
  return hint === "" ? message : `${hint}. ${message}`;
}

const capabilities = { CAP_NET_ADMIN: 12, CAP_NET_RAW: 13, CAP_IPC_LOCK: 14, CAP_SYS_ADMIN: 21 };

/** The running EAL of this process. */
export class Dpdk {
  /** The shim it runs through. */
  readonly shim: Shim;
  /** The arguments it was started with. */
  readonly args: readonly string[];
  readonly #ports = new Map<number, Port>();
  readonly #zones: DpdkZone[] = [];
  readonly #attached: Port[] = [];
  /** A device of the share keeps pool buffers when it is removed (see #release). */
  #driverHeld = false;
  #lease = false;
  #closed = false;

  private constructor(shim: Shim, args: string[]) {
    this.shim = shim;
    this.args = args;
  }

  /**
   * A share of this process's EAL for one stack, with `options.vdevs`
   * attached to it as new devices. The first call starts the EAL (without
   * devices, and without shared files: nothing stays in /var/run/dpdk);
   * later ones reuse it, so stacks can be made, closed and made again in
   * one process, and several can run at once on different devices. Each
   * device gets a name of its own (`net_memif0`, `net_memif1`, ...; see
   * {@link attachedPorts}). {@link close} removes the share's devices and
   * frees its pools; the EAL stays up for the next stack.
   *
   * @throws {EalError} the EAL could not start, or runs with other settings
   *   than `options` asks for (they hold for the whole process; only the
   *   devices differ per stack)
   * @throws {NoSuchPortError} a device could not be attached (its ports are released again)
   */
  static async share(options: EalOptions, shimOptions?: OpenShimOptions): Promise<Dpdk> {
    const args = ealArgs({ ...options, vdevs: [], extra: [...(options.extra ?? []), "--no-shconf"] });
    const shim = await openShim(shimOptions);
    if (shared === undefined) {
      if (running !== undefined) {
        throw new EalError(
          "the EAL of this process was started by Dpdk.start for its own use: a stack cannot share it",
          -114,
          args,
        );
      }
      const encoded = cString(args.join("\0") + "\0");
      const rc = shim.symbols.luna_eal_init(encoded, encoded.length, args.length);
      // With --no-shconf the runtime directory stays empty: no other process attaches to this one.
      removeRuntimeDir(args);
      if (rc < 0) {
        throw new EalError(
          withHint(
            `DPDK's EAL did not start (${errnoName(rc)}) with arguments ${
              JSON.stringify(args.slice(1))
            }: ${shim.lastError().trim()}`,
            rc,
          ),
          rc,
          args,
        );
      }
      shared = { shim, args };
    } else if (JSON.stringify(shared.args) !== JSON.stringify(args)) {
      throw new EalError(
        `the EAL of this process runs with ${JSON.stringify(shared.args.slice(1))}, this stack asks for ${
          JSON.stringify(args.slice(1))
        }: EAL settings (prefix, memory, lcores, extra arguments) hold for the whole process, only devices differ per stack`,
        -114,
        args,
      );
    }
    const d = new Dpdk(shared.shim, shared.args);
    d.#lease = true;
    try {
      for (const v of options.vdevs ?? []) {
        d.#driverHeld ||= /^net_memif\d*,.*zero-copy=[^,]*yes/.test(v);
        d.#attached.push(d.attach(uniqueDevargs(d.shim, v)));
      }
    } catch (e) {
      d.close();
      throw e;
    }
    return d;
  }

  /** The ports of the devices {@link share} attached, in the order of `options.vdevs`. */
  get attachedPorts(): readonly Port[] {
    return this.#attached;
  }

  /**
   * Starts the EAL with `options` (or a raw argument list, argv[0] first).
   * Once per process: a second call, or a call after a failed one, throws.
   *
   * @throws {EalError} the EAL refused the arguments or could not start
   */
  static async start(options: EalOptions | string[], shimOptions?: OpenShimOptions): Promise<Dpdk> {
    const args = Array.isArray(options) ? options : ealArgs(options);
    const shim = await openShim(shimOptions);
    if (running !== undefined || shared !== undefined) {
      throw new EalError(
        "the EAL is already running in this process: it starts once per process",
        -114,
        args,
      );
    }
    const encoded = cString(args.join("\0") + "\0");
    const rc = shim.symbols.luna_eal_init(encoded, encoded.length, args.length);
    if (rc < 0) {
      removeRuntimeDir(args); // what the failed start made is left to no one else
      throw new EalError(
        `DPDK's EAL did not start (${errnoName(rc)}) with arguments ${
          JSON.stringify(args.slice(1))
        }: ${shim.lastError().trim()}`,
        rc,
        args,
      );
    }
    running = new Dpdk(shim, args);
    return running;
  }

  /** The EAL running in this process, if any. */
  static get current(): Dpdk | undefined {
    return running;
  }

  /** Number of ports. */
  get portCount(): number {
    return this.shim.symbols.luna_port_count();
  }

  /** The port with this id or DPDK name. */
  port(idOrName: number | string): Port {
    this.#open();
    if (typeof idOrName === "string") return this.#keep(findPort(this.shim, idOrName));
    const known = this.#ports.get(idOrName);
    if (known !== undefined) return known;
    if (!Number.isInteger(idOrName) || idOrName < 0 || idOrName >= 1024) {
      throw new NoSuchPortError(idOrName, `port ${idOrName}: not a port id`);
    }
    return this.#keep(new Port(this.shim, idOrName));
  }

  /** Attaches a device from its arguments (as for `--vdev`) and returns its port. */
  attach(devargs: string): Port {
    this.#open();
    const b = cString(devargs);
    const id = this.shim.symbols.luna_port_attach(b, b.length);
    if (id < 0) throw new NoSuchPortError(devargs, withHint(this.shim.lastError().trim(), id));
    return this.#keep(new Port(this.shim, id));
  }

  /** Two ports joined back to back by rings in this process: what one sends the other receives. */
  ringPair(name: string, ringSize = 1024): [Port, Port] {
    this.#open();
    const b = cString(name);
    const ids = new Uint32Array(2);
    const rc = this.shim.symbols.luna_ring_pair(b, b.length, ringSize, ids);
    if (rc < 0) throw new EalError(`ring pair '${name}': ${this.shim.lastError().trim()}`, rc);
    return [this.#keep(new Port(this.shim, ids[0])), this.#keep(new Port(this.shim, ids[1]))];
  }

  /** Creates a packet pool over one contiguous region, mapped once as a zone. */
  createZone(name: string, options?: DpdkZoneOptions): DpdkZone {
    this.#open();
    const zone = new DpdkZone(this.shim, name, options);
    this.#zones.push(zone);
    return zone;
  }

  /** Registers the calling thread (a Worker) with the EAL; returns its lcore id. */
  registerThread(): number {
    const rc = this.shim.symbols.luna_thread_register();
    if (rc < 0) throw new EalError(`thread registration: ${this.shim.lastError().trim()}`, rc);
    return rc;
  }

  /**
   * Stops and closes every port it handed out, then cleans the EAL up. A
   * share ({@link share}) removes its ports' devices and frees its pools
   * instead, and leaves the EAL running.
   *
   * @throws {EalError} a pool of a share still had buffers in use (it stays allocated)
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#lease) return this.#release();
    for (const port of this.#ports.values()) {
      try {
        if (port.describe().started) port.stop();
        port.close();
      } catch {
        // A port that cannot stop is closed with the EAL below.
      }
    }
    for (const zone of this.#zones) zone.close();
    const rc = this.shim.symbols.luna_eal_cleanup();
    removeRuntimeDir(this.args);
    if (rc < 0) throw new EalError(`EAL cleanup: ${this.shim.lastError().trim()}`, rc);
  }

  #release(): void {
    const problems: string[] = [];
    // DPDK's net_af_xdp keeps the buffers on its fill ring when it closes, and memif's zero-copy
    // client those it lent the server's ring and those the server had not yet taken: they never
    // come back, so their pool is freed with them out. Every other driver gives back every buffer.
    let driverHeld = this.#driverHeld ? 1 : 0;
    for (const port of this.#ports.values()) {
      // Closed already (the id may now be another stack's port): nothing of ours to remove.
      if (readString((b, n) => this.shim.symbols.luna_port_name(port.id, b, n), 128) !== port.name) continue;
      if (port.name.startsWith("net_af_xdp")) driverHeld = 1;
      const rc = this.shim.symbols.luna_port_remove(port.id);
      if (rc < 0) problems.push(this.shim.lastError().trim());
    }
    for (const zone of this.#zones) {
      zone.close();
      const rc = this.shim.symbols.luna_pool_free(zone.pool, driverHeld);
      if (rc < 0) problems.push(this.shim.lastError().trim());
    }
    if (problems.length > 0) {
      throw new EalError(`releasing the stack's ports and pools: ${problems.join("; ")}`, -16);
    }
  }

  #keep(port: Port): Port {
    this.#ports.set(port.id, port);
    return port;
  }

  #open(): void {
    if (this.#closed) throw new EalError("the EAL of this process was closed", -22);
  }
}

/** The EAL leaves its runtime directory behind; it is ours, by our unique --file-prefix. */
function removeRuntimeDir(args: readonly string[]): void {
  const at = args.indexOf("--file-prefix");
  const prefix = at >= 0 ? args[at + 1] : undefined;
  if (!prefix) return;
  for (const dir of ["/var/run/dpdk", "/run/dpdk"]) {
    try {
      rmSync(`${dir}/${prefix}`, { recursive: true, force: true });
    } catch {
      // not there, or not ours to remove
    }
  }
}
