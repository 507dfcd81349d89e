// Storage-RPC answers over memif, as the bench runs them: the sender's GSO
// cuts each 4 KiB answer into two full-sized segments and a short one with
// PSH, and the receiver's GRO (the shim's, DPDK's) gives TCP the three as one
// packet of three links, with the PSH on it: Linux's GRO merges a PSH
// segment last. The DPDK case runs in a child process on its own
// --file-prefix.
import { assert, assertEquals } from "@std/assert";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { removeEalFiles, resultOf, runChild, tempDir, uniquePrefix } from "./child.ts";
import { describe, test } from "./harness.ts";

describe("memif answers", () => {
  test("a 4 KiB answer reaches TCP as one coalesced segment of three links, PSH kept", async () => {
    const answers = 300;
    const dir = tempDir("answers");
    const prefix = uniquePrefix("answers");
    try {
      const r = resultOf(
        await runChild("memif_answers.ts", [prefix, join(dir, "memif.sock"), String(answers), "4096"], {
          timeoutMs: 60_000,
        }),
      );
      assertEquals([r.answers, r.bytesOk], [answers, true], "every answer, every byte");
      // A retransmission a loaded machine may provoke (a loss probe) arrives as a packet of its
      // own; every other answer is one packet of 1448 + 1448 + 1200 bytes.
      assert(r.byLinks[3] >= answers - 5, JSON.stringify(r));
      assertEquals(r.tcp.inChainedLinks, 3 * r.tcp.inChainedSegs, JSON.stringify(r));
      // PSH on every packet that ends an answer, and on no other.
      assertEquals([r.noPshAtEnd, r.pshInside], [0, 0], JSON.stringify(r));
      assert(r.pshAtEnd >= answers, JSON.stringify(r));
    } finally {
      removeEalFiles(prefix);
      rmSync(dir, { recursive: true, force: true });
    }
  }, { timeoutMs: 90_000 });

  test(
    "the answers of sixteen connections in one burst: two GRO calls, each answer one packet of three links with its PSH; a flow pushed twice is not merged across its PSH; requests cost no GRO call",
    async () => {
      const dir = tempDir("gro-flows");
      const prefix = uniquePrefix("gro-flows");
      try {
        const r = resultOf(
          await runChild("gro_flows.ts", [prefix, join(dir, "memif.sock")], { timeoutMs: 60_000 }),
        );
        const whole = (port: number, seq: number) => ({ port, seq, links: 3, psh: true, bytes: true });
        const flows = Array.from({ length: 16 }, (_, k) => 5000 + k);
        assertEquals(r.sixteen.packets, flows.map((port) => whole(port, 0)));
        // GRO takes the answers of 8 connections a call (GRO_RUN_PUSHED_MAX), not one each.
        assertEquals(r.sixteen.groCalls, 2);
        // The first connection's second answer starts a run of its own, after its first.
        assertEquals(r.again.packets, [whole(5000, 4096), whole(5001, 4096), whole(5000, 8192)]);
        assertEquals(r.again.groCalls, 2);
        // Sixteen requests (one segment each, with PSH): GRO has nothing to merge and is not called.
        assertEquals(
          r.requests.packets,
          flows.map((port) => ({
            port,
            seq: port === 5000 ? 12288 : port === 5001 ? 8192 : 4096,
            links: 1,
            psh: true,
            bytes: true,
          })),
        );
        assertEquals(r.requests.groCalls, 0);
        assertEquals(r.freeAfter, r.freeBefore, "every buffer back, on both ports");
      } finally {
        removeEalFiles(prefix);
        rmSync(dir, { recursive: true, force: true });
      }
    },
    { timeoutMs: 90_000 },
  );
});
