/**
 * node:http on luna-ts against node:http on the kernel's TCP, measured in the
 * same run: keep-alive `GET /r` requests/s from a closed-loop node:net client
 * (/usr/bin/node, tests/children/node_compat_peer.mjs) in the peer namespace
 * of a lab, with 1 and 16 connections.
 *
 *   luna-ts   tests/children/node_compat_server.ts: node:http handed luna-ts
 *             sockets (port 8080, whose `listening` reads true so that Deno's
 *             node:http keeps connections alive too), over net_af_packet on a
 *             veth with offloads off (198.18.0.2)
 *   kernel    the same program's node:http listening on the kernel's TCP, in
 *             the same runtime, over a second veth pair with the kernel's
 *             default offloads (198.18.1.2)
 *   node      node's own node:http (/usr/bin/node) on the kernel's TCP, same path
 *
 * The servers run one at a time (the machine may have two cores); the rounds
 * interleave them, and each figure is the median of its rounds.
 *
 *   bun bench/node_http.ts [--seconds S] [--warmup S] [--rounds N] [--conns 1,16] [--no-node]
 *   deno run -A bench/node_http.ts ...
 *
 * Needs root, iproute2, ethtool, openssl and node (scripts/setup.sh).
 *
 * @module
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpus } from "node:os";
import { join } from "node:path";
import { createLab, requireLabTools } from "../src/lab/netns.ts";
import {
  Child,
  childScript,
  explain,
  removeEalFiles,
  runChild,
  tempDir,
  uniquePrefix,
} from "../tests/child.ts";

const runtime = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined" ? "bun" : "deno";
function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const seconds = Number(arg("--seconds") ?? 3);
const warmup = Number(arg("--warmup") ?? 0.5);
const rounds = Number(arg("--rounds") ?? 3);
const connsList = (arg("--conns") ?? "1,16").split(",").map(Number);
const withNode = !process.argv.includes("--no-node");

requireLabTools(["ip", "ethtool", "openssl", "node"]);
const lab = createLab({ prefix: "luna-bench-http", subnet: 0 });
const dir = tempDir("bench-node-http");
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });

/** One server under test: how to start it, where it answers, how to stop it. */
interface Target {
  name: string;
  host: string;
  port: number;
  start(): Promise<{ stop(): Promise<void> }>;
}

try {
  // A second veth pair gives the kernel's servers in the luna namespace a path like luna-ts's.
  sh("ip", [
    "link",
    "add",
    "kb0",
    "netns",
    lab.luna.ns,
    "type",
    "veth",
    "peer",
    "name",
    "kb1",
    "netns",
    lab.kernel.ns,
  ]);
  sh("ip", ["-n", lab.luna.ns, "addr", "add", "198.18.1.2/24", "dev", "kb0"]);
  sh("ip", ["-n", lab.kernel.ns, "addr", "add", "198.18.1.1/24", "dev", "kb1"]);
  sh("ip", ["-n", lab.luna.ns, "link", "set", "kb0", "up"]);
  sh("ip", ["-n", lab.kernel.ns, "link", "set", "kb1", "up"]);
  const key = join(dir, "key.pem");
  const cert = join(dir, "cert.pem");
  sh("openssl", [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    key,
    "-out",
    cert,
    "-days",
    "1",
    "-subj",
    "/CN=luna.bench",
  ]);

  const server = childScript("node_compat_server.ts");
  const peer = childScript("node_compat_peer.mjs");
  const stopBySignal = (c: Child) => async () => {
    process.kill(c.process.pid!, "SIGINT");
    const r = await c.done();
    if (r.code !== 0) throw new Error(`${c.name}: ${explain(r)}`);
  };
  const targets: Target[] = [
    {
      name: `luna-ts (${runtime})`,
      host: lab.luna.ip,
      port: 8080,
      async start() {
        const prefix = uniquePrefix("bench-node-http");
        const c = new Child(server, ["luna", prefix, lab.luna.iface, lab.luna.cidr, cert, key], {
          wrap: lab.wrap("luna"),
          timeoutMs: 600_000,
        });
        await c.waitFor(/^READY$/, 30_000);
        return {
          stop: async () => {
            try {
              await stopBySignal(c)();
            } finally {
              removeEalFiles(prefix);
            }
          },
        };
      },
    },
    {
      name: `kernel (${runtime})`,
      host: "198.18.1.2",
      port: 8080,
      async start() {
        const c = new Child(server, ["kernel", "198.18.1.2", "8080"], {
          wrap: lab.wrap("luna"),
          timeoutMs: 600_000,
        });
        await c.waitFor(/^READY$/, 30_000);
        return { stop: stopBySignal(c) };
      },
    },
  ];
  if (withNode) {
    targets.push({
      name: `kernel (node ${spawnSync("node", ["--version"], { encoding: "utf8" }).stdout.trim()})`,
      host: "198.18.1.2",
      port: 8081,
      async start() {
        const c = new Child(peer, [peer, "http-server", "198.18.1.2", "8081"], {
          program: "node",
          wrap: lab.wrap("luna"),
          timeoutMs: 600_000,
        });
        await c.waitFor(/^LISTENING$/, 10_000);
        return {
          stop: async () => {
            c.process.kill("SIGKILL");
            await c.done();
          },
        };
      },
    });
  }

  console.log(
    `node:http requests/s, keep-alive GET, closed loop from node:net in the peer namespace; ` +
      `${rounds} rounds of ${seconds} s; ${runtime}; ${cpus().length} CPUs`,
  );
  const figures = new Map<string, number[]>();
  for (let round = 0; round < rounds; round++) {
    for (const t of targets) {
      const s = await t.start();
      try {
        for (const conns of connsList) {
          const r = await runChild(
            peer,
            [peer, "bench-client", t.host, String(t.port), String(conns), String(seconds), String(warmup)],
            { program: "node", wrap: lab.wrap("kernel"), timeoutMs: (seconds + warmup + 30) * 1000 },
          );
          const res = r.result as { rps: number; errors: number; reconnects: number } | undefined;
          if (r.code !== 0 || res === undefined) throw new Error(`client against ${t.name}: ${explain(r)}`);
          const k = `${t.name}\t${conns}`;
          figures.set(k, [...(figures.get(k) ?? []), res.rps]);
          console.log(
            `  round ${round + 1}: ${t.name}, ${conns} conn: ${res.rps.toFixed(0)} req/s` +
              (res.errors + res.reconnects > conns
                ? ` (${res.errors} errors, ${res.reconnects} reconnects)`
                : ""),
          );
        }
      } finally {
        await s.stop();
      }
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  console.log("\nmedian requests/s");
  console.log(["connections", ...targets.map((t) => t.name), "luna-ts / kernel"].join("\t"));
  const rows: Record<string, unknown>[] = [];
  for (const conns of connsList) {
    const m = targets.map((t) => median(figures.get(`${t.name}\t${conns}`)!));
    console.log([conns, ...m.map((x) => x.toFixed(0)), (m[0] / m[1]).toFixed(2)].join("\t"));
    rows.push({
      conns,
      ...Object.fromEntries(targets.map((t, i) => [t.name, Math.round(m[i])])),
      ratio: m[0] / m[1],
    });
  }
  console.log("RESULT " + JSON.stringify({ runtime, seconds, rounds, rows }));
} finally {
  lab.close();
  spawnSync("rm", ["-rf", dir]);
}
process.exit(0);
