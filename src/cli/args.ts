/**
 * The `luna` command line: parsing and the help text. A bad argument is a
 * {@link UsageError} naming it; the command prints it and exits with 2.
 *
 * @module
 */
import { cpus } from "node:os";
import { type AppLimits, appLimitDefaults, type AppName, appNames } from "../apps/mod.ts";
import type { StackConfigInput } from "../api/config.ts";
import type { ConfigError } from "../errors.ts";

/** A bad command line: `arg` is the argument at fault, as the user wrote it. */
export class UsageError extends Error {
  readonly arg: string;
  constructor(arg: string, message: string) {
    super(`${arg}: ${message}`);
    this.name = "UsageError";
    this.arg = arg;
  }
}

/** What `luna serve ...` asks for. */
export interface ServeOptions {
  app: AppName;
  port: number;
  /** The stack's configuration, as createStack takes it. */
  config: StackConfigInput;
  /** Print the final stats as one JSON line too. */
  json: boolean;
  /** The fault injector's seed, when faults are on. */
  faultSeed?: number;
  /** Per-core workers, each on its own queue pair (1: the stack runs on the main thread). */
  workers: number;
  /** The app's timeouts and connection cap (src/apps/guard.ts). */
  limits: AppLimits;
}

/** A parsed command line. */
export type Command = { kind: "help" } | { kind: "version" } | { kind: "serve"; options: ServeOptions };

/** The help text. */
export const usage = `luna: a user-space TCP/IP stack (luna-ts) serving over DPDK

usage:
  luna serve echo|http|discard --device SPEC --address CIDR [options]
  luna setup          build the shim from the package's C sources (once, after installing)
  luna ls | stats | conns | capture | ping | connect | lab | demo | bench   (luna --help)

serve options:
  --device SPEC       af_packet:IFACE, packet:IFACE, af_xdp:IFACE, memif:/path.sock[,server|client],
                      a PCI address (0000:03:00.0), or eal:DEVARGS (eal:net_tap0,iface=tap0)
  --address CIDR      the stack's address and prefix, 198.18.0.2/24
  --port N            port to listen on (default: echo 7, discard 9, http 80)
  --mode MODE         batch (handlers after each burst, default) or inline (handlers
                      inside the receive path)
  --gateway IP        default gateway, on the address's subnet
  --faults LIST       inject faults both ways: loss=P,reorder=P,dup=P,corrupt=P,delay=MS,
                      jitter=MS,bandwidth=BPS,reorder_frames=N,reorder_ms=MS,seed=N
                      (P a probability 0..1; a reordered frame is passed by the next
                      3 frames unless reorder_frames/reorder_ms say otherwise; the
                      seed is random unless given, and printed)
  --pcap FILE         write every frame to a pcap file
  --prefix NAME       DPDK EAL --file-prefix (default luna-<pid>)
  --lcores MAP        DPDK EAL --lcores: which CPUs the EAL's lcores run on, 0@1 (lcore 0 on
                      CPU 1) or 0@(0-3) (default: lcore 0 on every CPU the process may use,
                      as taskset left it)
  --buffers N         packet buffers in the zone (default 8191; per worker with --workers)
  --mtu N             the MTU, 576..65521 (default: the device's, 1500): 9000 for jumbo frames
                      where both ends take them; above 9000 on memif only (a link with no wire,
                      like loopback at 65536: segments of up to 64 KiB on the link; give both
                      ends the same MTU); TCP announces an MSS of N - 40
  --tx-flush N        early transmit: answers made while a receive burst is processed leave
                      once N wait, 0..512 (0: at the end of the burst only; default 8, and 0
                      on af_packet, af_xdp and packet:, where each send is a system call)
  --idle-sleep US     after US µs without a received frame, sleep ~0.1 ms between polls until
                      frames come, 0..100000 (0: poll without a break; default 50 on af_packet,
                      af_xdp and packet:, whose peers share the machine's CPUs, 0 elsewhere)
  --checksums always  compute and verify TCP/IP checksums on every link (default auto: none on
                      memif, where both processes share memory; give both ends the same)
  --receive-offload on|off
                      coalesce received TCP segments (the port's LRO, else DPDK's GRO in the
                      shim; default: on over memif, off elsewhere; not with --coexist,
                      --faults or --pcap)
  --coexist           share the interface with the kernel: luna-ts serves its TCP flows, the
                      kernel everything else, and its address comes from the kernel (the
                      default for af_packet, af_xdp and PCI devices)
  --no-coexist        luna-ts owns the interface alone
  --workers K         K per-core workers, each with its own queue pair, connection table and
                      timers (the device must have K queues: memif, or a NIC with RSS)
  --name NAME         the stack's name for luna ls/stats/conns/capture/ping/connect: its
                      control socket is /run/luna/NAME.sock (default luna-<pid>; with
                      --workers each worker has its own, NAME-w0, NAME-w1, ...)
  --no-control        no control socket
  --header-timeout S  http: a request head must arrive whole within S seconds of its first byte
                      (of the connection's start, for the first); else 408 and close
                      (default 10; 0: none)
  --idle-timeout S    close a connection on which nothing moves for S seconds (http: between
                      requests), abort it if still there S seconds later, and abort one whose
                      answer sees no acknowledgment for S seconds (default 60; 0: none)
  --max-connections N connections the app holds at most, half-open ones included (per worker
                      with --workers); a SYN beyond them is refused with a RST (default 16384)
  --backlog N         half-open connections the listener holds before SYN cookies answer
                      (default 1024: a few hundred clients reconnecting at once, as wrk's
                      with Connection: close, stay under it; the library's default is 128)
  --congestion CC     congestion control: cubic (default), newreno, dctcp or bbr (docs/tuning.md)
  --syn-budget N|off  SYN cookies answered per loop iteration while the backlog is full; the
                      rest are dropped and counted as synsShed, but a shed SYN sent again
                      goes ahead (default 8; off: answer all)
  --syn-rate N|off    SYN cookies answered per second at most while connections are established
                      (a token bucket; default 5000 on af_packet, af_xdp and packet:, no bound on
                      a NIC or memif; off: no bound); the rest are shed as beyond
                      --syn-budget
  --json              on exit, print the stats as one JSON line too

apps:
  echo      sends back every byte (RFC 862)
  discard   reads and counts every byte (RFC 863)
  http      HTTP/1.1 with keep-alive: GET /bytes/N answers N bytes where byte i is
            i % 256; POST /sha256 answers the hex SHA-256 of the request body

Runs until SIGINT or SIGTERM, then closes its connections and prints its stats.
Exit status: 0 after a signal, 1 on a runtime failure, 2 on a bad argument.`;

const defaultPorts: Record<AppName, number> = { echo: 7, discard: 9, http: 80 };

const faultKeys: Record<string, string> = {
  loss: "loss",
  reorder: "reorder",
  reorder_frames: "reorderFrames",
  reorder_ms: "reorderMs",
  dup: "duplicate",
  duplicate: "duplicate",
  corrupt: "corrupt",
  delay: "delayMs",
  jitter: "jitterMs",
  bandwidth: "bandwidthBps",
  seed: "seed",
};

/** The options `serve` takes, and whether each takes a value. */
const serveFlags: Record<string, boolean> = {
  "--device": true,
  "--address": true,
  "--port": true,
  "--mode": true,
  "--gateway": true,
  "--faults": true,
  "--pcap": true,
  "--prefix": true,
  "--lcores": true,
  "--tx-flush": true,
  "--idle-sleep": true,
  "--buffers": true,
  "--mtu": true,
  "--checksums": true,
  "--receive-offload": true,
  "--workers": true,
  "--name": true,
  "--no-control": false,
  "--header-timeout": true,
  "--idle-timeout": true,
  "--max-connections": true,
  "--syn-budget": true,
  "--syn-rate": true,
  "--backlog": true,
  "--congestion": true,
  "--json": false,
  "--coexist": false,
  "--no-coexist": false,
};

/** Parses `argv` (without the runtime and script); throws {@link UsageError}. */
export function parseArgs(argv: string[]): Command {
  if (argv.length === 0) throw new UsageError("command", "missing: try 'luna --help'");
  const [first, ...rest] = argv;
  if (first === "--help" || first === "-h" || first === "help") return { kind: "help" };
  if (first === "--version" || first === "-V" || first === "version") return { kind: "version" };
  if (first !== "serve") throw new UsageError(first, "unknown command (known: serve, --help, --version)");
  if (rest.includes("--help") || rest.includes("-h")) return { kind: "help" };
  return { kind: "serve", options: parseServe(rest) };
}

function parseServe(argv: string[]): ServeOptions {
  let app: AppName | undefined;
  const values = new Map<string, string>();
  let json = false;
  const switches = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("-")) {
      if (app !== undefined) throw new UsageError(a, `unexpected argument (the app is already '${app}')`);
      if (!(appNames as readonly string[]).includes(a)) {
        throw new UsageError(a, `unknown app (known: ${appNames.join(", ")})`);
      }
      app = a as AppName;
      continue;
    }
    const eq = a.indexOf("=");
    const flag = eq > 0 ? a.slice(0, eq) : a;
    if (!(flag in serveFlags)) {
      throw new UsageError(flag, `unknown option (known: ${Object.keys(serveFlags).join(", ")})`);
    }
    if (!serveFlags[flag]) {
      if (eq > 0) throw new UsageError(flag, "takes no value");
      if (flag === "--json") json = true;
      switches.add(flag);
      continue;
    }
    let value: string | undefined;
    if (eq > 0) value = a.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) value = argv[++i];
    if (value === undefined || value === "") throw new UsageError(flag, "needs a value");
    if (values.has(flag)) throw new UsageError(flag, "given twice");
    values.set(flag, value);
  }
  if (app === undefined) throw new UsageError("app", `missing: luna serve ${appNames.join("|")} ...`);
  if (switches.has("--coexist") && switches.has("--no-coexist")) {
    throw new UsageError("--coexist", "given together with --no-coexist");
  }
  if (!values.has("--device")) throw new UsageError("--device", "required");
  // With the kernel as control plane, the address can come from the kernel's interface.
  if (!values.has("--address") && !switches.has("--coexist")) {
    throw new UsageError("--address", "required (or --coexist, to take it from the kernel)");
  }

  const port = values.has("--port") ? integer("--port", values.get("--port")!, 1, 65535) : defaultPorts[app];
  const mode = values.get("--mode") ?? "batch";
  if (mode !== "batch" && mode !== "inline") {
    throw new UsageError("--mode", `expected batch or inline, got '${mode}'`);
  }
  const config: StackConfigInput = {
    device: values.get("--device")!,
    mode,
  };
  if (values.has("--address")) config.address = values.get("--address");
  if (switches.has("--coexist")) config.coexist = true;
  if (switches.has("--no-coexist")) config.coexist = false;
  if (values.has("--gateway")) config.gateway = values.get("--gateway");
  if (values.has("--pcap")) config.pcap = values.get("--pcap");
  if (values.has("--prefix")) config.eal = { prefix: values.get("--prefix") };
  if (values.has("--lcores")) config.eal = { ...config.eal, lcores: lcoresArg(values.get("--lcores")!) };
  if (values.has("--tx-flush")) config.txFlushFrames = integer("--tx-flush", values.get("--tx-flush")!, 0, 512);
  if (values.has("--idle-sleep")) {
    config.idleSleepUs = integer("--idle-sleep", values.get("--idle-sleep")!, 0, 100_000);
  }
  if (values.has("--buffers")) config.buffers = integer("--buffers", values.get("--buffers")!, 256, 1 << 22);
  if (values.has("--mtu")) config.mtu = integer("--mtu", values.get("--mtu")!, 576, 65521);
  if (values.has("--checksums")) {
    const v = values.get("--checksums")!;
    if (v !== "auto" && v !== "always") throw new UsageError("--checksums", `expected auto or always, got '${v}'`);
    config.checksums = v;
  }
  if (values.has("--receive-offload")) {
    const v = values.get("--receive-offload")!;
    if (v !== "on" && v !== "off") {
      throw new UsageError("--receive-offload", `expected on or off, got '${v}'`);
    }
    config.receiveOffload = v === "on";
  }
  let faultSeed: number | undefined;
  if (values.has("--faults")) {
    const faults = parseFaults(values.get("--faults")!);
    config.faults = faults as StackConfigInput["faults"];
    faultSeed = faults.seed;
  }
  if (values.has("--syn-budget")) {
    const v = values.get("--syn-budget")!;
    config.tcp = { synCookiesPerPoll: v === "off" ? Infinity : integer("--syn-budget", v, 1, 1 << 20) };
  }
  if (values.has("--syn-rate")) {
    const v = values.get("--syn-rate")!;
    config.tcp = {
      ...config.tcp,
      synCookiesPerSecond: v === "off" ? Infinity : integer("--syn-rate", v, 1, 1e9),
    };
  }
  // Linux lets Bun.serve's listen(fd, 512) hold 512 (somaxconn 4096): 128 sent a tenth of the
  // connections of 256 wrk clients with Connection: close through cookies, some shed (1 s to retry).
  const backlog = values.has("--backlog") ? integer("--backlog", values.get("--backlog")!, 1, 1 << 20) : 1024;
  config.tcp = { ...config.tcp, backlog };
  if (values.has("--congestion")) {
    const v = values.get("--congestion")!;
    if (v !== "cubic" && v !== "newreno" && v !== "dctcp" && v !== "bbr") {
      throw new UsageError("--congestion", `expected cubic, newreno, dctcp or bbr, got '${v}'`);
    }
    config.tcp = { ...config.tcp, congestion: v };
  }
  const workers = values.has("--workers") ? integer("--workers", values.get("--workers")!, 1, 64) : 1;
  if (values.has("--name")) {
    const name = values.get("--name")!;
    if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) {
      throw new UsageError("--name", `'${name}' is not 1 to 64 of letters, digits, _ . -`);
    }
    if (switches.has("--no-control")) throw new UsageError("--name", "given together with --no-control");
    // With workers each has its socket, NAME-w0, NAME-w1, ...
    if (workers > 1 && name.length > 60) {
      throw new UsageError("--name", `'${name}' is over 60 characters (each worker's is NAME-wN)`);
    }
  }
  // The control socket (luna stats, conns, capture, ...): on unless asked otherwise; with --workers one per
  // worker, named NAME-w0, NAME-w1, ... (src/workers/worker_main.ts).
  if (!switches.has("--no-control")) {
    config.control = { name: values.get("--name") ?? `luna-${process.pid}` };
  }
  const limits: AppLimits = { ...appLimitDefaults };
  if (values.has("--header-timeout")) limits.headerTimeoutMs = seconds("--header-timeout", values.get("--header-timeout")!);
  if (values.has("--idle-timeout")) limits.idleTimeoutMs = seconds("--idle-timeout", values.get("--idle-timeout")!);
  if (values.has("--max-connections")) {
    limits.maxConnections = integer("--max-connections", values.get("--max-connections")!, 1, 1 << 22);
  }
  return { app, port, config, json, faultSeed, workers, limits };
}

/** Seconds, 0..86400 with up to three decimals, as whole milliseconds. */
function seconds(arg: string, s: string): number {
  if (!/^\d+(\.\d{1,3})?$/.test(s) || Number(s) > 86_400) {
    throw new UsageError(arg, `expected seconds 0..86400 (up to three decimals), got '${s}'`);
  }
  return Math.round(Number(s) * 1000);
}

function integer(arg: string, s: string, min: number, max: number): number {
  if (!/^\d+$/.test(s) || Number(s) < min || Number(s) > max) {
    throw new UsageError(arg, `expected an integer ${min}..${max}, got '${s}'`);
  }
  return Number(s);
}

/** A number or a range (`3`, `0-3`) of lcores or CPUs, as the EAL's --lcores writes them. */
const idRange = String.raw`\d{1,4}(?:-\d{1,4})?`;
/** A set of them: one, or a parenthesized list (`(0,2-3)`). */
const idSet = String.raw`(?:${idRange}|\(${idRange}(?:,${idRange})*\))`;
/** One element of the EAL's --lcores: `LCORES[@CPUS]` (without `@CPUS`, each lcore on the CPU of its number). */
const lcoresElement = new RegExp(String.raw`(${idSet})(?:@(${idSet}))?`, "y");

/**
 * Checks an `--lcores` mapping (DPDK's syntax, `0@1`, `0@(0-3)`, `(0,1)@(2,3)`): its shape, and
 * that each CPU it names exists here; the EAL itself would fail on either with lines of its own
 * that do not say which argument.
 */
function lcoresArg(s: string): string {
  const bad = () =>
    new UsageError("--lcores", `'${s}' is not an lcore mapping (like 0@1, 0@(0-3) or (0,1)@(2,3))`);
  // The machine's CPUs, not the process's: under taskset the mapping may name others on purpose.
  const count = cpus().length;
  lcoresElement.lastIndex = 0;
  for (;;) {
    const m = lcoresElement.exec(s);
    if (m === null) throw bad();
    for (const r of (m[2] ?? m[1]).replace(/[()]/g, "").split(",")) {
      const [lo, hi = lo] = r.split("-").map(Number);
      if (lo > hi) throw new UsageError("--lcores", `'${r}' is a range that runs backwards`);
      if (hi >= count) throw new UsageError("--lcores", `CPU ${hi} does not exist here (CPUs 0..${count - 1})`);
    }
    if (lcoresElement.lastIndex === s.length) return s;
    if (s[lcoresElement.lastIndex] !== ",") throw bad();
    lcoresElement.lastIndex++;
  }
}

/** `loss=0.01,seed=7` → the stack's fault settings; the seed defaults to a random one. */
export function parseFaults(s: string): Record<string, number> & { seed: number } {
  const out: Record<string, number> = {};
  for (const part of s.split(",")) {
    const [k, v, ...extra] = part.split("=");
    const key = faultKeys[k?.trim() ?? ""];
    if (key === undefined) {
      throw new UsageError("--faults", `unknown fault '${k}' (known: ${Object.keys(faultKeys).join(", ")})`);
    }
    if (v === undefined || extra.length > 0 || v.trim() === "" || !Number.isFinite(Number(v))) {
      throw new UsageError("--faults", `${k} needs a number: ${k}=VALUE`);
    }
    out[key] = Number(v);
  }
  if (out.seed === undefined) out.seed = Math.floor(Math.random() * 2 ** 31);
  // A reordered frame needs a distance: by default it is passed by the next 3 frames.
  if ((out.reorder ?? 0) > 0 && out.reorderFrames === undefined && out.reorderMs === undefined) {
    out.reorderFrames = 3;
  }
  return out as Record<string, number> & { seed: number };
}

const fieldArgs: Record<string, string> = {
  device: "--device",
  address: "--address",
  gateway: "--gateway",
  mode: "--mode",
  pcap: "--pcap",
  buffers: "--buffers",
  mtu: "--mtu",
  checksums: "--checksums",
  receiveOffload: "--receive-offload",
  "eal.prefix": "--prefix",
  "eal.lcores": "--lcores",
  txFlushFrames: "--tx-flush",
  idleSleepUs: "--idle-sleep",
  "control.name": "--name",
  "control.dir": "--name",
  workers: "--workers",
};

const faultNames: Record<string, string> = Object.fromEntries(
  Object.entries(faultKeys).filter(([k]) => k !== "duplicate").map(([k, v]) => [v, k]),
);

/** The command-line argument behind a configuration field (`faults.loss` → `--faults loss`). */
export function argOfField(field: string): string {
  if (field in fieldArgs) return fieldArgs[field];
  // Schema fields (faults.loss), and the fault injector's own (rx.loss, tx.loss, seed).
  const fault = /^(?:faults|rx|tx)\.(.+)$/.exec(field)?.[1] ?? (field === "seed" ? "seed" : undefined);
  if (fault !== undefined) return `--faults ${faultNames[fault] ?? fault}`;
  return field;
}

/** A {@link ConfigError} from createStack, as a usage error naming the argument. */
export function usageOfConfigError(e: ConfigError): UsageError {
  const arg = argOfField(e.field);
  const text = e.message.replace(new RegExp(`^${e.field.replace(/\./g, "\\.")}:\\s*`), "");
  return new UsageError(arg, text);
}
