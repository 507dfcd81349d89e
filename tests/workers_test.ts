// Per-core workers, luna-ts to luna-ts over memif with a queue pair per
// worker: two processes, two workers each.
import { assert, assertEquals } from "@std/assert";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { Child, explain, removeEalFiles, runChild, tempDir, uniquePrefix } from "./child.ts";
import { describe, test } from "./harness.ts";

interface Report {
  index: number;
  verified: number;
  failed: number;
  aborted: number;
}

async function run(conns: number, bytes: number, abortWorker: number, mtu?: number) {
  const dir = tempDir("workers");
  const socket = join(dir, "memif.sock");
  const sp = uniquePrefix("wsrv");
  const cp = uniquePrefix("wcli");
  const extra = mtu !== undefined ? [String(mtu)] : [];
  const server = new Child("workers_side.ts", ["server", sp, socket, "2", "0", "0", "-1", ...extra], {
    timeoutMs: 120_000,
  });
  try {
    await server.waitFor(/^READY/, 60_000);
    const r = await runChild(
      "workers_side.ts",
      ["client", cp, socket, "2", String(conns), String(bytes), String(abortWorker), ...extra],
      { timeoutMs: 120_000 },
    );
    assertEquals(r.code, 0, explain(r));
    assert(r.result !== undefined, explain(r));
    // The server's counters once the client is done: its latest STATS line, waiting up to 30 s
    // for one that counts every connection (the workers answer between rounds of polling, late
    // when the CPUs are busy; passive opens only grow, so an older line that counts them all
    // is as good as a new one).
    const lines = () => server.stdout.split("\n").filter((l) => l.startsWith("STATS "));
    let stats: { passiveOpens: number; rxFrames: number; rxBytes: number }[] = [];
    for (const end = Date.now() + 30_000; Date.now() < end;) {
      const line = lines().pop();
      if (line !== undefined) {
        stats = JSON.parse(line.slice(6));
        if (stats.reduce((n, s) => n + s.passiveOpens, 0) >= 2 * conns) break;
      }
      await new Promise((res) => setTimeout(res, 50));
    }
    assert(stats.length > 0, `no STATS line from the server: ${server.stdout.slice(-500)}`);
    return { client: r.result as { reports: Report[]; activeOpens: number[] }, server: stats };
  } finally {
    server.process.kill("SIGKILL");
    await server.done();
    removeEalFiles(sp);
    removeEalFiles(cp);
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("per-core workers", () => {
  test("1,000 connections spread over two workers on each side, every byte verified", async () => {
    const { client, server } = await run(500, 4000, -1);
    const byIndex = client.reports.sort((a, b) => a.index - b.index);
    assertEquals(byIndex.map((r) => [r.verified, r.failed]), [[500, 0], [500, 0]]);
    assertEquals(client.activeOpens, [500, 500]);
    // Each server worker took the connections that arrived on its queue: the spread.
    assertEquals(server.map((s) => s.passiveOpens), [500, 500]);
  }, { timeoutMs: 180_000 });

  test("jumbo frames: 40 connections over two workers a side at MTU 9000, every byte verified", async () => {
    const { client, server } = await run(20, 300_000, -1, 9000);
    const byIndex = client.reports.sort((a, b) => a.index - b.index);
    assertEquals(byIndex.map((r) => [r.verified, r.failed]), [[20, 0], [20, 0]]);
    assertEquals(server.map((s) => s.passiveOpens), [20, 20]);
    // The data came in frames longer than a 1500-byte link allows.
    for (const s of server) assert(s.rxBytes / s.rxFrames > 1500, `mean frame ${(s.rxBytes / s.rxFrames).toFixed(0)} bytes`);
  }, { timeoutMs: 180_000 });

  test("one worker's connections are aborted while the other worker's keep flowing to the end", async () => {
    const { client, server } = await run(20, 200_000, 0);
    const byIndex = client.reports.sort((a, b) => a.index - b.index);
    assertEquals(byIndex[0].aborted, 20, "worker 0 aborted its connections midway");
    assertEquals([byIndex[1].verified, byIndex[1].failed], [20, 0], "worker 1's transfers completed intact");
    assertEquals(server.map((s) => s.passiveOpens), [20, 20]);
  }, { timeoutMs: 180_000 });
});
