// The `luna` tool: the control socket of a stack (owner-only, stale sockets
// replaced, removed on close) and the subcommands that use it, run against
// `luna serve http` in one namespace lab with the kernel's curl, a Python echo server and
// tcpdump as the judges; each subcommand's --help and one bad argument.
import { assert, assertEquals, assertMatch, assertRejects, assertStringIncludes } from "@std/assert";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runLuna, subcommands } from "../src/cli/run.ts";
import { ControlError, listStacks, request } from "../src/control/client.ts";
import { FrameReader } from "../src/control/protocol.ts";
import { ConfigError, createHeapZone, createMemoryLink, createStack, type Stack } from "../src/mod.ts";
import { Child, explain, removeEalFiles, runChild, runtimeCommand, uniquePrefix } from "./child.ts";
import { describe, test } from "./harness.ts";
import {
  fileSha256,
  interopLab,
  killLuna,
  lunaScript,
  type LunaServer,
  sh,
  startLuna,
  stopLuna,
} from "./lab_peers.ts";

/** Runs `luna argv` in this process; returns its status and what it printed. */
async function luna(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runLuna(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

function tempDir(tag: string): string {
  const d = mkdtempSync(join(tmpdir(), `luna-${tag}-`));
  chmodSync(d, 0o755);
  return d;
}

/** Two stacks on the in-memory link, `a` with a control socket in `dir`. */
async function memoryPair(dir: string, name: string): Promise<[Stack, Stack]> {
  const [la, lb] = createMemoryLink({
    zone: createHeapZone({ name: "a", count: 1024 }),
    zoneB: createHeapZone({ name: "b", count: 1024 }),
  });
  const a = await createStack({ device: la, address: "198.18.0.1/24", control: { name, dir } });
  const b = await createStack({ device: lb, address: "198.18.0.2/24" });
  return [a, b];
}

describe("luna tool", () => {
  test("each subcommand has --help; a bad argument is named in one line, with exit status 2", async () => {
    for (const name of Object.keys(subcommands)) {
      const r = await luna([name, "--help"]);
      assertEquals(r.code, 0, `${name} --help: ${r.err}`);
      assertStringIncludes(r.out, `usage: luna ${name}`);
    }
    const top = await luna(["--help"]);
    for (const name of Object.keys(subcommands)) assertStringIncludes(top.out, `luna ${name}`);
    const cases: [string[], string][] = [
      [["ls", "extra"], "extra"],
      [["stats", "--interval", "0"], "--interval"],
      [["conns", "--state", "dancing"], "--state"],
      [["capture", "somestack"], "-w"],
      [["capture", "-w", "/tmp/x.pcap", "-c", "zero"], "-c"],
      [["ping", "300.1.1.1"], "300.1.1.1"],
      [["connect", "198.18.0.1"], "198.18.0.1"],
      [["lab", "sideways", "x"], "sideways"],
      [["demo", "--repo", "/nonexistent"], "--repo"],
      [["bench", "--repo", "/nonexistent"], "--repo"],
      [["serve", "http", "--device", "af_packet:x", "--address", "198.18.0.2/24", "--name", "a b"], "--name"],
      [["sideways"], "sideways"],
    ];
    for (const [argv, arg] of cases) {
      const r = await luna(argv);
      assertEquals(r.code, 2, `luna ${argv.join(" ")}: ${r.out} ${r.err}`);
      assert(r.err.startsWith(`luna: ${arg}: `), `luna ${argv.join(" ")} names ${arg}: ${r.err}`);
      assertEquals(r.err.split("\n").length, 1, r.err);
    }
    const dir = tempDir("ctl-none");
    try {
      setEnv("LUNA_CONTROL_DIR", dir);
      const r = await luna(["stats", "nosuchstack"]);
      assertEquals(r.code, 1);
      assertStringIncludes(r.err, "luna: no stack named 'nosuchstack'");
    } finally {
      setEnv("LUNA_CONTROL_DIR", undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("control socket: opt-in, owner-only, answers stats and conns, refuses a second stack of its name, replaces a stale one, goes on close", async () => {
    const dir = tempDir("ctl");
    let a: Stack | undefined;
    let b: Stack | undefined;
    try {
      // A socket left by a process that is gone: bound, never unlinked.
      const stale = join(dir, "mem.sock");
      const py = spawnSync("/usr/bin/python3", [
        "-c",
        `import socket; s = socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(stale)})`,
      ]);
      assertEquals(py.status, 0, String(py.stderr));
      assertEquals((await listStacks(dir))[0].status, "stale");
      [a, b] = await memoryPair(dir, "mem");
      assertEquals(b.controlSocket, undefined); // opt-in for the library
      assertEquals(a.controlSocket, stale);
      assertEquals(statSync(stale).mode & 0o777, 0o600);
      const err = await assertRejects(() => memoryPair(dir, "mem"), ConfigError);
      assertEquals(err.field, "control.name");
      assertStringIncludes(err.message, "already answers");

      const server = b;
      server.listen(80, () => ({}));
      a.connect("198.18.0.2", 80);
      const end = performance.now() + 5000;
      while (a.connections()[0]?.state !== "ESTABLISHED" && performance.now() < end) {
        a.poll();
        server.poll();
        await new Promise((r) => setTimeout(r, 0));
      }
      const ls = await listStacks(dir);
      assertEquals(ls.map((e) => [e.name, e.status]), [["mem", "live"]]);
      const s = await request("mem", { op: "stats" }, () => {}, { dir, timeoutMs: 5000 });
      assertEquals((s.stats as { tcp: { activeOpens: number } }).tcp.activeOpens, 1);
      const memory = s.memory as { heapUsed: number; rss: number };
      // Both counted (under Bun the heap in use can exceed the resident set: it counts pages not yet touched).
      assert(memory.heapUsed > 0 && memory.rss > 0, JSON.stringify(memory));
      const rows: unknown[] = [];
      await request("mem", { op: "conns", state: "established", port: 80 }, (f) => {
        if (f.kind === "json") rows.push(...(f.value.conns as unknown[]));
      }, { dir, timeoutMs: 5000 });
      assertEquals(rows.length, 1);
      assertEquals((rows[0] as { remote: string }).remote, "198.18.0.2:80");
      const none = await request("mem", { op: "conns", state: "syn-sent" }, () => {}, {
        dir,
        timeoutMs: 5000,
      });
      assertEquals(none.listed, 0);
      const bad = await assertRejects(() => request("mem", { op: "dance" }, () => {}, { dir }), ControlError);
      assertStringIncludes(bad.message, "op: unknown 'dance'");
      // Bad input is answered with its error and counted; the stack goes on.
      assertStringIncludes(await raw(stale, "not json\n"), "request is not a JSON object");
      assertStringIncludes(await raw(stale, "[1, 2]\n"), "request is not a JSON object");
      assertStringIncludes(await raw(stale, "x".repeat(5000)), "request longer than 4096 bytes");
      assertStringIncludes(await raw(stale, '{"op":"ping","addr":"nowhere"}\n'), "nowhere");
      const after = await request("mem", { op: "stats" }, () => {}, { dir, timeoutMs: 5000 });
      assertEquals((after.control as { badRequests: number }).badRequests, 5);
      await a.close(0);
      a = undefined;
      assert(!existsSync(stale), "the socket is removed on close");
    } finally {
      await a?.close(0);
      await b?.close(0);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("luna serve --workers: each worker has its control socket (NAME-w0, NAME-w1), answering for its own queue", async () => {
    const dir = tempDir("ctlw");
    const prefix = uniquePrefix("serve-workers");
    const child = new Child(lunaScript, [
      "serve",
      "echo",
      "--workers",
      "2",
      "--device",
      `memif:${join(dir, "memif.sock")},server`,
      "--address",
      "198.18.0.2/24",
      "--prefix",
      prefix,
      "--name",
      "wk",
      "--json",
    ], { env: { LUNA_CONTROL_DIR: dir }, timeoutMs: 60_000 });
    try {
      await child.waitFor(/^luna: serving echo/, 30_000);
      assertStringIncludes(await child.waitFor(/^luna: control sockets/, 0), "wk-w0, wk-w1");
      const ls = (await listStacks(dir)).filter((e) => e.name.startsWith("wk"));
      assertEquals(ls.map((e) => [e.name, e.status]), [["wk-w0", "live"], ["wk-w1", "live"]]);
      for (const [i, name] of ["wk-w0", "wk-w1"].entries()) {
        const r = await luna(["stats", name, "--json", "--dir", dir]);
        assertEquals(r.code, 0, r.err);
        assertEquals(JSON.parse(r.out).stats.device, `net_memif0/${i}`);
        const c = await luna(["conns", name, "--dir", dir]);
        assertEquals(c.code, 0, c.err);
        assertStringIncludes(c.out, "0 listed");
      }
      process.kill(child.process.pid!, "SIGINT");
      const run = await child.done();
      assertEquals(run.code, 0, explain(run));
      assertEquals(
        (await listStacks(dir)).filter((e) => e.name.startsWith("wk")),
        [],
        "the sockets go with the workers",
      );
    } finally {
      if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGKILL");
      await child.done();
      removeEalFiles(prefix);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test(
    "against luna serve in a namespace lab: ls, stats --json, conns, capture, ping, connect; another user is refused",
    async () => {
      const lab = interopLab();
      const name = `lt-${process.pid}-${Math.random().toString(36).slice(2, 7)}`;
      const sock = `/run/luna/${name}.sock`;
      let server: LunaServer | undefined;
      const dir = tempDir("tool");
      const cli = (args: string[]) => runChild(lunaScript, args, { timeoutMs: 30_000 });
      try {
        server = await startLuna(lab, "http", "batch", { extra: ["--name", name] });
        assertEquals(server.control, sock);
        assertEquals(statSync(sock).mode & 0o777, 0o600);

        const ls = await cli(["ls"]);
        assertEquals(ls.code, 0, explain(ls));
        assertMatch(
          ls.stdout,
          new RegExp(`^${name}\\s+\\d+\\s+af_packet:luna0\\s+198\\.18\\.0\\.2/24\\s+batch`, "m"),
        );

        await sh(lab, "kernel", `curl -sf http://${lab.luna.ip}/bytes/1000 -o /dev/null`);
        const st = await cli(["stats", name, "--json"]);
        assertEquals(st.code, 0, explain(st));
        const snap = JSON.parse(st.stdout) as {
          name: string;
          stats: { tcp: Record<string, number>; ip: { link: Record<string, number> } };
        };
        assertEquals(snap.name, name);
        assert(snap.stats.tcp.passiveOpens >= 1, st.stdout);
        assert(snap.stats.ip.link.rxFrames > 0, st.stdout);

        // A download slowed by curl (to last a minute): listed while it runs, then ended.
        const [w, ...wargs] = lab.wrap("kernel");
        const slow = spawn(w, [
          ...wargs,
          "curl",
          "-s",
          "--limit-rate",
          "300k",
          `http://${lab.luna.ip}/bytes/20000000`,
          "-o",
          "/dev/null",
        ], { stdio: "ignore" });
        const slowDone = new Promise((r) => slow.on("close", r));
        let listing = "";
        for (let i = 0; i < 40 && !listing.includes(`${lab.kernel.ip}:`); i++) {
          const r = await cli(["conns", name, "--state", "established", "--port", "80"]);
          assertEquals(r.code, 0, explain(r));
          listing = r.stdout;
        }
        assertMatch(
          listing,
          new RegExp(
            `^ESTABLISHED .* ${lab.luna.ip.replace(/\./g, "\\.")}:80 +${
              lab.kernel.ip.replace(/\./g, "\\.")
            }:\\d+$`,
            "m",
          ),
        );
        assertMatch(
          listing,
          /cubic rtt:[\d.]+\/[\d.]+ rto:[\d.]+ mss:1460 cwnd:\d+ ssthresh:\S+ inflight:\d+/,
        );
        slow.kill("SIGKILL");
        await slowDone;

        // Twenty frames of port 80, while requests come: a file tcpdump reads.
        const pcap = join(dir, "c.pcap");
        const cap = cli(["capture", name, "-w", pcap, "-c", "20", "--port", "80"]);
        let captured = false;
        void cap.then(() => (captured = true));
        for (const end = Date.now() + 25_000; !captured && Date.now() < end;) {
          await sh(lab, "kernel", `curl -sf http://${lab.luna.ip}/bytes/100 -o /dev/null`);
        }
        const c = await cap;
        assertEquals(c.code, 0, explain(c));
        assertStringIncludes(c.stderr, "20 frames captured");
        const read = spawnSync("tcpdump", ["-n", "-r", pcap], { encoding: "utf8" });
        assertEquals(read.status, 0, read.stderr);
        const lines = read.stdout.trim().split("\n");
        assertEquals(lines.length, 20, read.stdout);
        for (const l of lines) assertMatch(l, /198\.18\.0\.[12]\.80[ :]/);

        const ping = await cli(["ping", lab.kernel.ip, "--stack", name, "-c", "3", "-i", "0.2", "-W", "3"]);
        assertEquals(ping.code, 0, explain(ping));
        assertStringIncludes(ping.stdout, "3 packets transmitted, 3 received, 0% packet loss");

        // nc-like: a file through an echo server on the kernel's TCP (it reads to the end, echoing, then
        // closes its side) comes back byte-exact.
        const input = join(dir, "in.bin");
        const output = join(dir, "out.bin");
        writeFileSync(input, randomBytes(1_000_000));
        const echoServer = [
          "import socket",
          "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
          "s.bind(('0.0.0.0', 7000)); s.listen(1); c, _ = s.accept()",
          "while True:",
          "    d = c.recv(65536)",
          "    if not d: break",
          "    c.sendall(d)",
          "c.shutdown(socket.SHUT_WR); c.close()",
        ].join("\n");
        writeFileSync(join(dir, "echo.py"), echoServer);
        const echo = sh(lab, "kernel", `timeout 30 /usr/bin/python3 ${join(dir, "echo.py")}`, {
          timeoutMs: 40_000,
        });
        for (let i = 0; i < 100; i++) {
          const l = await sh(lab, "kernel", "ss -Hltn sport = :7000");
          if (l.stdout.includes("7000")) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        const [cmd, args] = runtimeCommand(lunaScript, ["connect", `${lab.kernel.ip}:7000`, "--stack", name]);
        const q = (s: string) => `'${s}'`;
        await sh(lab, "luna", `${[cmd, ...args].map(q).join(" ")} < ${q(input)} > ${q(output)}`);
        await echo;
        assertEquals(fileSha256(output), fileSha256(input));

        // The socket is its owner's: another user is refused, by the kernel and in the tool's words.
        const other = await runChild(lunaScript, ["stats", name, "--json"], {
          wrap: ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"],
          timeoutMs: 30_000,
        });
        assertEquals(other.code, 1, explain(other));
        assertStringIncludes(other.stderr, `permission denied on ${sock}`);

        await stopLuna(server);
        server = undefined;
        assert(!existsSync(sock), "luna serve removes its socket when it stops");
      } finally {
        killLuna(server);
        rmSync(sock, { force: true }); // left only where the test failed before the server's clean stop
        lab.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
    { timeoutMs: 120_000 },
  );
});

/** Sends `text` to the control socket at `path` as it is; resolves with the error of its last frame. */
function raw(path: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FrameReader();
    const s = net.connect(path, () => s.write(text));
    let error = "";
    s.on("data", (chunk: Uint8Array) => {
      for (const f of reader.push(chunk)) if (f.kind === "json") error = String(f.value.error);
    });
    s.on("error", reject);
    s.on("close", () => resolve(error));
  });
}

/** Sets (or, with undefined, removes) an environment variable for this process. */
function setEnv(key: string, value: string | undefined): void {
  if (value === undefined) delete process.env[key];
  else process.env[key] = value;
}
