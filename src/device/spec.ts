/**
 * Device specifications as users write them (`af_packet:veth0`,
 * `memif:/run/m.sock,server`, `memif:/run/m.sock,client,zero-copy`, a PCI
 * address, or raw EAL device arguments),
 * turned into what DPDK's EAL takes.
 *
 * @module
 */
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { ConfigError } from "../errors.ts";

/** What a spec becomes: EAL arguments and the DPDK name of its port. */
export interface DeviceSpec {
  /** The spec as given. */
  spec: string;
  /** Kind, for messages and defaults. */
  kind: "af_packet" | "packet" | "af_xdp" | "memif" | "pci" | "raw";
  /** `--vdev` arguments. */
  vdevs: string[];
  /** Other EAL arguments (`-a PCI`). */
  eal: string[];
  /** DPDK's name for the port, or a PCI address. */
  portName: string;
  /** Whether the EAL must probe PCI. */
  pci: boolean;
  /** Environment the EAL needs (af_xdp's BPF object path). */
  env: Record<string, string>;
  /** The kernel interface the device sits on, if any. */
  iface?: string;
  /**
   * The PMD carries frames of any length whatever limit it advertises, so an
   * MTU above that limit is luna's to keep (see PortConfig.mtuPmdUnbounded).
   * net_memif: DPDK 22.11 advertises 1518-byte frames but chains its packet
   * buffers (`bsize`) for longer ones, and luna sizes `bsize` to the MTU;
   * it also chains the pool's buffers for a frame longer than one, both ways.
   */
  mtuPmdUnbounded: boolean;
  /**
   * The device shares the packet pool's own memory with its peer (memif's
   * zero-copy client, `memif:PATH,client,zero-copy`): frames go out and come
   * in where they lie in the pool, and the peer (the memif server) copies
   * into and out of them. The pool must then lie in memory another process
   * can map, one file per segment list (see EalOptions.hugepages; openDpdkPort
   * checks it).
   */
  sharesPool?: boolean;
}

/** Options of {@link parseDeviceSpec}. */
export interface DeviceSpecOptions {
  /** The MTU the port will run at: sizes the device's own buffers where it has any (memif `bsize`). */
  mtu?: number;
}

/**
 * The longest MTU whose frames go and come in one buffer each: jumbo
 * frames. Above it frames are chains of buffers, which memif carries.
 */
export const mtuOneBufferMax = 9000;

/** memif's default packet buffer size (`bsize`), bytes. */
const memifBufferDefault = 2048;

/**
 * memif's largest packet buffer (`bsize`, 16 bits), bytes: the longest
 * frame a memif carries. Each frame goes in one ring slot: DPDK 22.11's
 * copy-mode transmit never clears MEMIF_DESC_FLAG_NEXT on a packet's first
 * slot, so a frame that spanned slots leaves its flag behind, and the frame
 * that next starts at that slot a lap later arrives glued to the one after it.
 */
export const memifBufferMax = 65535;

/**
 * memif's packet buffer size for `mtu`: one buffer per frame, in whole KiB
 * up to {@link memifBufferMax}.
 */
export function memifBufferSize(mtu: number): number {
  const frame = mtu + 14;
  if (frame <= memifBufferDefault) return memifBufferDefault;
  return Math.min(Math.ceil(frame / 1024) * 1024, memifBufferMax);
}

/** log2 of a zero-copy memif's ring size (memif's `rsize`; DPDK's default is 10). */
const memifZeroCopyRingLog2 = 11;

const ifacePattern = /^[A-Za-z0-9_.:-]{1,15}$/;
const pciPattern = /^(?:[0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/;

/** Parses a device spec; throws {@link ConfigError} naming `field` when it is not one. */
export function parseDeviceSpec(spec: string, field = "device", options: DeviceSpecOptions = {}): DeviceSpec {
  const colon = spec.indexOf(":");
  const head = colon < 0 ? spec : spec.slice(0, colon);
  const rest = colon < 0 ? "" : spec.slice(colon + 1);
  switch (head) {
    case "af_packet": {
      if (!ifacePattern.test(rest)) throw new ConfigError(field, `af_packet needs an interface name: af_packet:IFACE, got '${spec}'`);
      return {
        spec,
        kind: "af_packet",
        // 4096 frames: a loop that stalls for tens of ms must not overflow the
        // socket's ring (512 by default), whose drops DPDK does not report.
        vdevs: [`net_af_packet0,iface=${rest},qpairs=1,framecnt=4096`],
        eal: [],
        portName: "net_af_packet0",
        pci: false,
        env: {},
        iface: rest,
        mtuPmdUnbounded: false,
      };
    }
    case "packet": {
      // luna's own AF_PACKET socket with PACKET_VNET_HDR (c-shims/packet_port.c): 64 KB
      // segments cross into the kernel and back as GSO packets; the veth keeps its offloads.
      if (!ifacePattern.test(rest)) throw new ConfigError(field, `packet needs an interface name: packet:IFACE, got '${spec}'`);
      return {
        spec,
        kind: "packet",
        vdevs: [`luna_packet0,iface=${rest}`],
        eal: [],
        portName: "luna_packet0",
        pci: false,
        env: {},
        iface: rest,
        mtuPmdUnbounded: false,
      };
    }
    case "af_xdp": {
      if (!ifacePattern.test(rest)) throw new ConfigError(field, `af_xdp needs an interface name: af_xdp:IFACE, got '${spec}'`);
      return {
        spec,
        kind: "af_xdp",
        vdevs: [`net_af_xdp0,iface=${rest},start_queue=0,queue_count=1`],
        eal: [],
        portName: "net_af_xdp0",
        pci: false,
        env: { LIBXDP_OBJECT_PATH: "/usr/lib/x86_64-linux-gnu/bpf" },
        iface: rest,
        mtuPmdUnbounded: false,
      };
    }
    case "memif": {
      const [path, role = "client", ...extra] = rest.split(",");
      const zeroCopy = extra.length === 1 && extra[0] === "zero-copy";
      if (
        !path || !path.startsWith("/") || (extra.length > 0 && !zeroCopy) ||
        (role !== "server" && role !== "client")
      ) {
        throw new ConfigError(
          field,
          `memif needs an absolute socket path and a role: memif:/path.sock[,server|client[,zero-copy]], got '${spec}'`,
        );
      }
      if (zeroCopy && role !== "client") {
        // DPDK's memif driver shares its own buffers with the peer in the client role only: the
        // server maps the client's memory and copies into and out of the client's buffers.
        throw new ConfigError(
          field,
          `memif zero-copy is for the client role only (DPDK's memif), got '${spec}'`,
        );
      }
      const dir = dirname(path);
      if (!existsSync(dir)) {
        throw new ConfigError(field, `memif socket directory '${dir}' does not exist (in '${spec}')`);
      }
      const bsize = memifBufferSize(options.mtu ?? 1500);
      return {
        spec,
        kind: "memif",
        vdevs: [
          `net_memif0,role=${role},socket=${path},socket-abstract=no` +
          (bsize !== memifBufferDefault ? `,bsize=${bsize}` : "") +
          // Zero-copy: a slot per buffer of a chain, so a GSO segment (header, payload link)
          // takes two; 2048 slots hold the 1024 frames a copy-mode ring does (the receive
          // ring lends 2048 of the pool's buffers to the server, for good).
          (zeroCopy ? `,zero-copy=yes,rsize=${memifZeroCopyRingLog2}` : ""),
        ],
        eal: [],
        portName: "net_memif0",
        pci: false,
        env: {},
        mtuPmdUnbounded: true,
        ...(zeroCopy ? { sharesPool: true } : {}),
      };
    }
    case "eal": {
      // Raw EAL device arguments: eal:net_tap0,iface=tap0
      const name = rest.split(",")[0];
      if (!/^net_[a-z_]+[0-9]+$/.test(name)) {
        throw new ConfigError(field, `raw device arguments start with a DPDK device name (net_tap0,...), got '${rest}'`);
      }
      // Every argument after the name is KEY=VALUE. DPDK hands a driver a key without a value as
      // a null value, and some drivers read it as a string: `net_af_packet0,iface` crashed the
      // process inside DPDK's af_packet driver (strlen of a null pointer).
      // Commas inside brackets belong to a list value (representor=[0,1]).
      for (const kv of rest.split(/,(?![^[]*\])/).slice(1)) {
        if (!/^[A-Za-z0-9_.-]+=.+$/.test(kv)) {
          throw new ConfigError(field, `raw device arguments after the name are KEY=VALUE, got '${kv}' in '${rest}'`);
        }
      }
      return {
        spec,
        kind: "raw",
        vdevs: [rest],
        eal: [],
        portName: name,
        pci: false,
        env: {},
        mtuPmdUnbounded: false,
        // memif's zero-copy client written out: its buffers and transmit bursts as memif:...,zero-copy.
        ...(/^net_memif\d+$/.test(name) && /,zero-copy=[^,]*yes/.test(rest) ? { sharesPool: true } : {}),
      };
    }
    default:
      if (pciPattern.test(spec)) {
        const full = spec.length === 7 ? `0000:${spec}` : spec;
        return {
          spec,
          kind: "pci",
          vdevs: [],
          eal: ["-a", full],
          portName: full,
          pci: true,
          env: {},
          mtuPmdUnbounded: false,
        };
      }
      throw new ConfigError(
        field,
        `'${spec}' is not a device: use af_packet:IFACE, packet:IFACE, af_xdp:IFACE, memif:/path.sock[,server|client[,zero-copy]], a PCI address, or eal:DEVARGS`,
      );
  }
}
