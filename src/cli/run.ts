/**
 * The `luna` command's dispatch: each subcommand with its help, and the
 * exit statuses (0 done, 1 a runtime failure, 2 a bad argument, named).
 * `serve` loads the stack (and DPDK) only when it runs; the other
 * subcommands talk to running stacks through their control sockets.
 *
 * @module
 */
import { lunaVersion } from "../../ffi/_locate.ts";
import { ControlError } from "../control/client.ts";
import { parseArgs, usage as serveUsage, UsageError } from "./args.ts";
import { connect, ping } from "./client_cmds.ts";
import { capture, conns, ls, stats, type Subcommand } from "./observe.ts";
import type { Io } from "./options.ts";
import { bench, demo, lab } from "./repo_cmds.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

/** The subcommands other than `serve`. */
export const subcommands: Record<string, Subcommand> = {
  ls,
  stats,
  conns,
  capture,
  ping,
  connect,
  lab,
  demo,
  bench,
};

/** `luna --help`. */
export const topUsage = `luna: a user-space TCP/IP stack (luna-ts) over DPDK, and the tool to watch it

usage:
  luna serve echo|http|discard --device SPEC --address CIDR [options]
                                    serve an app on a stack (luna serve --help)
  luna setup                        build the shim from the package's C sources (once, after installing)
  luna ls                           the stacks running on this host
  luna stats [NAME] [--json]        a stack's counters and rates, live like top
  luna conns [NAME]                 its TCP connections, like ss -tin
  luna capture [NAME] -w FILE|-     a pcap of its frames, for tcpdump and Wireshark
  luna ping ADDR [--stack NAME]     ICMP echo from a stack
  luna connect ADDR:PORT            stdin/stdout over a TCP connection from a stack, like nc
  luna lab up|down NAME             the namespace lab, to try it by hand
  luna demo                         the demo (make demo)
  luna bench [OPTIONS]              the benchmark (bun run bench)
  luna --help | --version

Each command takes --help. A stack that 'luna serve' runs has a control socket,
/run/luna/NAME.sock (owner-only; $LUNA_CONTROL_DIR moves it), that the other
commands use; NAME may be left out when one stack runs.
Exit status: 0 done, 1 a failure at run time, 2 a bad argument.`;

/** `luna setup --help`. */
const setupUsage = `usage: luna setup

Builds the shim library from the package's C sources (once, after installing the
package; it needs gcc and Debian's DPDK development packages).`;

const stdio: Io = { out: (l) => console.log(l), err: (l) => console.error(l) };

/** Runs `luna argv`; resolves with the exit status. */
export async function runLuna(argv: string[], io: Io = stdio): Promise<number> {
  try {
    const [first, ...rest] = argv;
    if (first === "--help" || first === "-h" || first === "help") {
      io.out(topUsage);
      return 0;
    }
    if (first === "--version" || first === "-V" || first === "version") {
      const rt = typeof g.Bun !== "undefined" ? `bun ${g.Bun.version}` : `deno ${g.Deno.version.deno}`;
      io.out(`luna ${lunaVersion} (luna-ts; ${rt})`);
      return 0;
    }
    if (first === "setup") {
      if (rest.length > 0) {
        if (rest[0] === "--help" || rest[0] === "-h") {
          io.out(setupUsage);
          return 0;
        }
        throw new UsageError(rest[0], "unexpected argument (luna setup takes none)");
      }
      // Builds the shim from the package's C sources (see ffi/setup.ts).
      const { buildShim } = await import("../../ffi/setup.ts");
      const path = await buildShim({ log: (line) => io.out(`luna: ${line}`) });
      io.out(`luna: the shim is ready: ${path}`);
      return 0;
    }
    if (first !== undefined && first in subcommands) return await subcommands[first].run(rest, io);
    if (first !== undefined && first !== "serve") {
      throw new UsageError(
        first,
        `unknown command (known: serve, setup, ${Object.keys(subcommands).join(", ")}, --help, --version)`,
      );
    }
    const cmd = parseArgs(argv);
    if (cmd.kind === "help") {
      io.out(serveUsage);
      return 0;
    }
    if (cmd.kind !== "serve") return 2;
    const { formatReport, serve } = await import("./serve.ts");
    const report = await serve(cmd.options, io.out);
    io.out(formatReport(report));
    if (cmd.options.json) io.out(JSON.stringify(report));
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`luna: ${e.message}`);
      return 2;
    }
    if (e instanceof ControlError) {
      io.err(`luna: ${e.message}`);
      return 1;
    }
    io.err(`luna: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    return 1;
  }
}
