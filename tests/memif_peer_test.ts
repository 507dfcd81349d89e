// A memif peer that leaves in the middle of a burst: DPDK's memif driver
// unmaps the shared regions on its interrupt thread while this side polls,
// which used to kill the polling process with SIGSEGV now and then (once in
// a few dozen departures under full-size traffic). The shim guards the
// driver's unmapping against bursts in flight; the sink here survives every
// departure and gets every buffer back. DPDK runs in child processes, each on
// its own --file-prefix.
import { assertEquals } from "@std/assert";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { Child, removeEalFiles, resultOf, runChild, tempDir, uniquePrefix } from "./child.ts";
import { describe, test } from "./harness.ts";

describe("memif peer departures", () => {
  test("a peer that exits while full-size frames flow both ways never takes the poller with it", async () => {
    const cycles = 6;
    const dir = tempDir("memif-peer");
    const socket = join(dir, "memif.sock");
    const sp = uniquePrefix("mpe-sink");
    const sink = new Child("memif_peer_exit.ts", ["sink", sp, socket, String(cycles)], {
      timeoutMs: 150_000,
    });
    const floods: string[] = [];
    try {
      await sink.waitFor(/^READY/, 60_000);
      for (let i = 0; i < cycles; i++) {
        const fp = uniquePrefix(`mpe-flood${i}`);
        floods.push(fp);
        // The peer leaves without closing anything, its rings full, while the sink bursts.
        const flood = resultOf(
          await runChild("memif_peer_exit.ts", ["flood", fp, socket], { timeoutMs: 60_000 }),
        );
        assertEquals(flood.error, undefined);
        // The next peer connects once the sink has seen this one go.
        await sink.waitFor(new RegExp(`^DOWN ${i + 1}$`), 60_000);
      }
      const r = resultOf(await sink.done());
      assertEquals(r.error, undefined);
      assertEquals(r.departures, cycles, "every departure seen");
      assertEquals(r.back, r.full, "every buffer back in the sink's pool");
    } finally {
      sink.process.kill("SIGKILL");
      await sink.done();
      removeEalFiles(sp);
      for (const fp of floods) removeEalFiles(fp);
      rmSync(dir, { recursive: true, force: true });
    }
  }, { timeoutMs: 180_000 });
});
