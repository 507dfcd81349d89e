// Slow readers against `luna serve`, in a namespace lab with the kernel's TCP
// as the client: 64 connections that ask for much and never read must not
// starve an honest client (each connection's send data holds at most a share
// of the zone, src/tcp/pool_pressure.ts). Default zone; every buffer is back
// at the end.
import { assert, assertEquals } from "@std/assert";
import { type ChildProcess, spawn } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { patternSha256 } from "../src/apps/pattern.ts";
import type { Lab } from "../src/lab/netns.ts";
import { tempDir } from "./child.ts";
import { describe, test } from "./harness.ts";
import { fileSha256, interopLab, killLuna, type LunaServer, sh, startLuna, stopLuna } from "./lab_peers.ts";

const python = "/usr/bin/python3";

/**
 * Opens `n` connections with a 4 KB receive buffer, sends `payload` on each
 * as far as the socket takes it, never reads, says HOLDING, and holds them
 * for `holdS` seconds (bounded: it exits by itself).
 */
const staller = `
import socket, sys, time
host, port, n, hold = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
payload = sys.argv[5].encode().decode("unicode_escape").encode("latin1")
repeat = int(sys.argv[6])
socks = []
for i in range(n):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect((host, port))
    s.setblocking(False)
    socks.append(s)
for s in socks:
    for _ in range(repeat):
        try:
            s.send(payload)
        except BlockingIOError:
            break
print("HOLDING", len(socks), flush=True)
time.sleep(hold)
`;

/** Starts the stallers in the lab's kernel namespace; resolves once they hold their connections. */
async function stall(lab: Lab, port: number, payload: string, repeat: number): Promise<ChildProcess> {
  const [cmd, ...args] = lab.wrap("kernel");
  const p = spawn(cmd, [
    ...args,
    python,
    "-c",
    staller,
    lab.luna.ip,
    String(port),
    "64",
    "60",
    payload,
    String(repeat),
  ], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  p.stdout!.setEncoding("utf8");
  p.stderr!.setEncoding("utf8");
  p.stdout!.on("data", (d: string) => (out += d));
  p.stderr!.on("data", (d: string) => (out += d));
  const end = Date.now() + 30_000;
  while (!out.includes("HOLDING 64")) {
    if (Date.now() > end || p.exitCode !== null) {
      p.kill("SIGKILL");
      throw new Error(`the stallers did not connect: ${out}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return p;
}

describe("slow readers (namespace lab)", () => {
  test(
    "luna serve http: 64 clients that ask for 100 MB and never read; an honest 1 MB download completes",
    async () => {
      const lab = interopLab();
      let srv: LunaServer | undefined;
      let stallers: ChildProcess | undefined;
      try {
        srv = await startLuna(lab, "http", "batch", { port: 8080 });
        stallers = await stall(lab, 8080, "GET /bytes/100000000 HTTP/1.1\\r\\nHost: t\\r\\n\\r\\n", 1);
        const n = 1 << 20;
        const got = await sh(
          lab,
          "kernel",
          `curl -sS --fail -m 20 http://${lab.luna.ip}:8080/bytes/${n} | sha256sum`,
          { timeoutMs: 30_000 },
        );
        assertEquals(got.stdout.split(" ")[0], patternSha256(n), "the honest download, byte for byte");
        stallers.kill("SIGKILL");
        const { report } = await stopLuna(srv);
        srv = undefined;
        assertEquals(report.stack.zone.inUse, 0, "every packet buffer is back in the zone");
      } finally {
        stallers?.kill("SIGKILL");
        killLuna(srv);
        lab.close();
      }
    },
    { timeoutMs: 120_000 },
  );

  test(
    "luna serve echo: 64 clients that send and never read; an honest 100 KB echo completes",
    async () => {
      const lab = interopLab();
      const dir = tempDir("slow-echo");
      let srv: LunaServer | undefined;
      let stallers: ChildProcess | undefined;
      try {
        srv = await startLuna(lab, "echo", "batch", { port: 7 });
        stallers = await stall(lab, 7, "x".repeat(1000), 1000);
        const file = join(dir, "honest.bin");
        writeFileSync(file, new Uint8Array(100_000).map((_, i) => (i * 7) & 0xff));
        const got = await sh(lab, "kernel", `nc -N -w 20 ${lab.luna.ip} 7 < ${file} | sha256sum`, {
          timeoutMs: 30_000,
        });
        assertEquals(got.stdout.split(" ")[0], fileSha256(file), "the honest echo, byte for byte");
        stallers.kill("SIGKILL");
        const { report } = await stopLuna(srv);
        srv = undefined;
        assert(report.stack.tcp.passiveOpens >= 65);
        assertEquals(report.stack.zone.inUse, 0, "every packet buffer is back in the zone");
      } finally {
        stallers?.kill("SIGKILL");
        killLuna(srv);
        lab.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
    { timeoutMs: 120_000 },
  );
});
