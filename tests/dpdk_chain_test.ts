// Chained buffers on a real DPDK port: a frame longer than one buffer (a
// jumbo frame over 2048-byte buffers on memif) arrives as a chain of
// records, every link a buffer of the zone, and goes back out as a chain;
// every byte is checked at both ends and every buffer comes back.
import { assertEquals } from "@std/assert";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { Child, removeEalFiles, resultOf, runChild, tempDir, uniquePrefix } from "./child.ts";
import { describe, test } from "./harness.ts";

describe("dpdk chains", () => {
  test(
    "a frame of three links round-trips through a memif pair, every byte checked, every buffer back",
    async () => {
      const dir = tempDir("chain");
      const socket = join(dir, "memif.sock");
      const ep = uniquePrefix("chain-echo");
      const sp = uniquePrefix("chain-send");
      const echo = new Child("rx_chain.ts", ["echo", ep, socket], { timeoutMs: 60_000 });
      try {
        await echo.waitFor(/^READY/, 30_000);
        const sender = resultOf(await runChild("rx_chain.ts", ["send", sp, socket], { timeoutMs: 60_000 }));
        const echoer = resultOf(await echo.done());
        // 5000 bytes over buffers of 2048: three links each way.
        assertEquals(echoer.received, [2048, 2048, 904], "the echoer's links");
        assertEquals(sender.received, [2048, 2048, 904], "the sender's links");
        assertEquals([echoer.bytesOk, sender.bytesOk], [true, true], "every byte, both ways");
        for (const side of [sender, echoer]) {
          assertEquals(
            side.freeAfter,
            side.freeBefore,
            `${side.mode}: the zone's free count returns exactly`,
          );
          assertEquals([side.stats.rxChains, side.stats.rxMultisegDropped], [1, 0]);
        }
      } finally {
        echo.process.kill("SIGKILL");
        await echo.done();
        removeEalFiles(ep);
        removeEalFiles(sp);
        rmSync(dir, { recursive: true, force: true });
      }
    },
    { timeoutMs: 120_000 },
  );
});
