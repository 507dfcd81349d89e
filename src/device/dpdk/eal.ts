/**
 * DPDK's environment abstraction layer (EAL), started once per process, and
 * the entry point to its ports and pools.
 *
 * @module
 */
import { rmSync } from "node:fs";
import { cString, openShim, type OpenShimOptions, type Shim } from "../../../ffi/mod.ts";
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
  /** Use hugepages; by default `--no-huge`. */
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
    throw new ConfigError("prefix", `expected 1 to 64 of [A-Za-z0-9_.-], got ${JSON.stringify(options.prefix)}`);
  }
  const mem = options.memoryMb ?? 256;
  if (!Number.isInteger(mem) || mem < 16 || mem > 1 << 20) {
    throw new ConfigError("memoryMb", `expected an integer 16..1048576, got ${mem}`);
  }
  const args = ["luna", "--file-prefix", options.prefix, "-m", String(mem), "--no-telemetry"];
  if (!options.hugepages) args.push("--no-huge");
  if (!options.pci) args.push("--no-pci");
  args.push("--lcores", options.lcores ?? `0@(0-${Math.max(0, cpuCount() - 1)})`);
  args.push(`--log-level=${options.logLevel ?? "notice"}`);
  for (const v of options.vdevs ?? []) args.push(`--vdev=${v}`);
  args.push(...(options.extra ?? []));
  return args;
}

function cpuCount(): number {
  // deno-lint-ignore no-explicit-any
  const nav = (globalThis as any).navigator;
  return typeof nav?.hardwareConcurrency === "number" ? nav.hardwareConcurrency : 1;
}

let running: Dpdk | undefined;

/** The running EAL of this process. */
export class Dpdk {
  /** The shim it runs through. */
  readonly shim: Shim;
  /** The arguments it was started with. */
  readonly args: readonly string[];
  readonly #ports = new Map<number, Port>();
  readonly #zones: DpdkZone[] = [];
  #closed = false;

  private constructor(shim: Shim, args: string[]) {
    this.shim = shim;
    this.args = args;
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
    if (running !== undefined) {
      throw new EalError("the EAL is already running in this process: it starts once per process", -114, args);
    }
    const encoded = cString(args.join("\0") + "\0");
    const rc = shim.symbols.luna_eal_init(encoded, encoded.length, args.length);
    if (rc < 0) {
      removeRuntimeDir(args); // what the failed start made is left to no one else
      throw new EalError(
        `DPDK's EAL did not start (${errnoName(rc)}) with arguments ${JSON.stringify(args.slice(1))}: ${
          shim.lastError().trim()
        }`,
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
    if (id < 0) throw new NoSuchPortError(devargs, this.shim.lastError().trim());
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

  /** Stops and closes every port it handed out, then cleans the EAL up. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
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
