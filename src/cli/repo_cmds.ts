/**
 * `luna lab up|down NAME`, `luna demo` and `luna bench`: the namespace lab
 * for trying luna-ts by hand, and the repository's demo and benchmark.
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError } from "./args.ts";
import type { Subcommand } from "./observe.ts";
import { intFlag, type Io, parseOptions, stringFlag } from "./options.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

function help(io: Io, usage: string): number {
  io.out(usage);
  return 0;
}

/** `luna lab`. */
export const lab: Subcommand = {
  usage: `usage: luna lab up NAME [--subnet N] [--mtu N]
       luna lab down NAME

The namespace lab of the demo and the tests, to try luna-ts by hand (root):
'up' makes two network namespaces joined by a veth pair, NAME-luna (interface
luna0 with no kernel address, for a luna stack on net_af_packet) and NAME-kern
(interface kern0 with 198.18.N.1/24: the kernel's TCP, curl, nc), and prints
the commands to use them; 'down' removes both.

  --subnet N        the third octet of the lab's 198.18.N.0/24 (default 0)
  --mtu N           the veth pair's MTU, 576..9000 (default 1500)`,
  async run(argv, io) {
    const p = parseOptions(argv, { "--subnet": true, "--mtu": true }, 2);
    if (p.help) return help(io, this.usage);
    const [verb, name] = p.positional;
    if (verb === undefined) throw new UsageError("up|down", "missing: luna lab up NAME | luna lab down NAME");
    if (verb !== "up" && verb !== "down") throw new UsageError(verb, "expected up or down");
    if (name === undefined) throw new UsageError("NAME", `missing: luna lab ${verb} NAME`);
    if (!/^[A-Za-z0-9_.-]{1,40}$/.test(name)) {
      throw new UsageError(name, "not a lab name (1 to 40 of letters, digits, _ . -)");
    }
    // Loaded here: the lab is part of the repository, not of the installed package.
    const { createLab, removeLab } = await import("../lab/netns.ts").catch(() => {
      throw new UsageError("lab", `the namespace lab (src/lab) is not in the installed package: ${needs}`);
    });
    if (verb === "down") {
      if (p.flags.size > 0) throw new UsageError([...p.flags.keys()][0], "only for 'luna lab up'");
      const gone = removeLab(name);
      if (gone.length === 0) {
        throw new UsageError(name, `no lab of that name (no namespace ${name}-luna or ${name}-kern)`);
      }
      io.out(`luna: removed ${gone.join(", ")}`);
      return 0;
    }
    const subnet = intFlag(p, "--subnet", 0, 255, 0)!;
    const mtu = intFlag(p, "--mtu", 576, 9000, 1500)!;
    const l = createLab({ name, subnet, mtu });
    io.out(`lab ${name} is up:
  ${l.luna.ns}  ${l.luna.iface}, no kernel address: a luna stack takes ${l.luna.cidr}
  ${l.kernel.ns}  ${l.kernel.iface} ${l.kernel.cidr}: the kernel's TCP
try:
  ip netns exec ${l.luna.ns} luna serve http --device af_packet:${l.luna.iface} --address ${l.luna.cidr} --name ${name} &
  ip netns exec ${l.kernel.ns} curl -s http://${l.luna.ip}/bytes/1000 | wc -c
  luna stats ${name}; luna conns ${name}; luna ping --stack ${name} ${l.kernel.ip}
remove it with: luna lab down ${name}`);
    return 0;
  },
};

/** Whether a directory holds the luna-ts repository. */
function isRepo(dir: string): boolean {
  try {
    return (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string }).name ===
        "luna-ts" &&
      existsSync(join(dir, "examples", "demo.ts"));
  } catch {
    return false;
  }
}

/** The repository: `--repo`, else where this script lies, else a directory above the current one. */
export function findRepo(given: string | undefined): string | undefined {
  if (given !== undefined) {
    if (!isRepo(resolve(given))) {
      throw new UsageError(
        "--repo",
        `'${given}' is not the luna-ts repository (no package.json named luna-ts with examples/)`,
      );
    }
    return resolve(given);
  }
  if (import.meta.url.startsWith("file:") && !import.meta.url.includes("$bunfs")) {
    const here = fileURLToPath(new URL("../..", import.meta.url));
    if (isRepo(here)) return here;
  }
  for (let d = resolve(process.cwd());; d = dirname(d)) {
    if (isRepo(d)) return d;
    if (dirname(d) === d) return undefined;
  }
}

/** The Bun to run a script of the repository with. */
function bunOf(repo: string): string | undefined {
  if (typeof g.Bun !== "undefined" && !import.meta.url.includes("$bunfs")) return process.execPath;
  const local = join(repo, "node_modules", ".bin", "bun");
  if (existsSync(local)) return local;
  return spawnSync("sh", ["-c", "command -v bun"], { encoding: "utf8" }).stdout.trim() || undefined;
}

function runIn(repo: string, cmd: string, args: string[]): Promise<number> {
  return new Promise((res) => {
    const p = spawn(cmd, args, { cwd: repo, stdio: "inherit" });
    const forward = () => p.kill("SIGINT");
    process.on("SIGINT", forward);
    p.on("close", (code, signal) => {
      process.off("SIGINT", forward);
      res(code ?? (signal !== null ? 130 : 1));
    });
  });
}

const needs =
  "it needs the luna-ts repository (a checkout with its node_modules: git clone, then make setup); " +
  "run it from there or give --repo DIR";

/** `luna demo`. */
export const demo: Subcommand = {
  usage: `usage: luna demo [--repo DIR]

Runs the demo (examples/demo.ts, as 'make demo' does): a two-namespace lab,
luna serve http on one side, curl on the kernel's TCP on the other: 20 MB down
and up checked by SHA-256, 32 clients at once, 200 requests on one connection;
then the server's counters, and the lab removed. Root; about 10 s.

  --repo DIR        the luna-ts repository (default: the one this command is from,
                    else the current directory or one above it)`,
  async run(argv, io) {
    const p = parseOptions(argv, { "--repo": true }, 0);
    if (p.help) return help(io, this.usage);
    const repo = findRepo(stringFlag(p, "--repo"));
    if (repo === undefined) throw new UsageError("demo", needs);
    if (typeof g.Deno !== "undefined") {
      return await runIn(repo, g.Deno.execPath(), ["run", "-A", join(repo, "examples", "demo.ts")]);
    }
    const bun = bunOf(repo);
    if (bun === undefined) throw new UsageError("demo", `no bun found: ${needs}`);
    return await runIn(repo, bun, [join(repo, "examples", "demo.ts")]);
  },
};

/** `luna bench`. */
export const bench: Subcommand = {
  usage: `usage: luna bench [--repo DIR] [BENCH-OPTIONS...]

Runs the benchmark of the repository ('bun run bench', bench/mod.ts) with the
options given (--quick for a short run of under 2 minutes; the comment at the top
of bench/mod.ts lists them all): luna-ts beside its kernel and DPDK baselines,
measured in the same run, written to bench/results/. Needs Bun and root.

  --repo DIR        the luna-ts repository (default: the one this command is from,
                    else the current directory or one above it)`,
  async run(argv, io) {
    const own: string[] = [];
    const rest: string[] = [];
    for (let i = 0; i < argv.length; i++) {
      if (argv[i] === "--help" || argv[i] === "-h") own.push(argv[i]);
      else if (argv[i] === "--repo") own.push(argv[i], argv[++i] ?? "");
      else if (argv[i].startsWith("--repo=")) own.push(argv[i]);
      else rest.push(argv[i]);
    }
    const p = parseOptions(own, { "--repo": true }, 0);
    if (p.help) return help(io, this.usage);
    const repo = findRepo(stringFlag(p, "--repo"));
    if (repo === undefined || !existsSync(join(repo, "bench", "mod.ts"))) {
      throw new UsageError("bench", needs);
    }
    const bun = bunOf(repo);
    if (bun === undefined) {
      throw new UsageError("bench", `no bun found (the benchmark runs under Bun): ${needs}`);
    }
    return await runIn(repo, bun, [join(repo, "bench", "mod.ts"), ...rest]);
  },
};
