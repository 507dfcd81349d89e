// Large TCP segments through DPDK: chains of transmit records, cut by the
// shim with DPDK's GSO library, between two processes over net_memif. Every
// byte is checked (SHA-256 of the stream put together by sequence number),
// every segment too, and every zone buffer comes back on both sides.
// deno-lint-ignore-file no-explicit-any
import { assert, assertEquals } from "@std/assert";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { Child, removeEalFiles, resultOf, runChild, tempDir, uniquePrefix } from "./child.ts";
import { describe, test } from "./harness.ts";

const stream = 3_000_000;
const mss = 1448;

async function transfer(checksums: "on" | "off") {
  const dir = tempDir("gso");
  const socket = join(dir, "memif.sock");
  const rp = uniquePrefix("gso-rx");
  const sp = uniquePrefix("gso-tx");
  const args = [socket, String(stream), String(mss), checksums];
  const receiver = new Child("gso_peer.ts", ["recv", rp, ...args], { timeoutMs: 120_000 });
  try {
    await receiver.waitFor(/^READY/);
    const sender = resultOf(await runChild("gso_peer.ts", ["send", sp, ...args], { timeoutMs: 120_000 }));
    return { sender, recv: resultOf(await receiver.done()) };
  } finally {
    receiver.process.kill("SIGKILL");
    removeEalFiles(rp);
    removeEalFiles(sp);
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("dpdk gso", () => {
  for (const checksums of ["on", "off"] as const) {
    test(
      `net_memif, checksums ${checksums}: large segments sent twice as chains arrive as MSS-sized segments, every byte and buffer accounted for`,
      async () => {
        const { sender, recv } = await transfer(checksums);
        assert(sender.gsoOffered, "net_memif offers the shim's GSO");
        assertEquals(recv.bad, 0, recv.firstBad);
        assert(sender.acked, "the sender saw the receiver's acknowledgement");
        assertEquals(recv.frames, 2 * sender.segments, "each segment, twice");
        assertEquals(recv.sha256, sender.sha256, "the stream (SHA-256)");
        assertEquals(sender.stats.txSegPackets, 2 * sender.packets);
        assertEquals(sender.stats.txSegSegments, 2 * sender.segments);
        assertEquals(sender.stats.txSegDropped, 0);
        assertEquals(sender.stats.txInvalidRefused, 0);
        assertEquals(recv.stats.ipackets, 2 * sender.segments);
        for (const side of [recv, sender]) {
          assertEquals(side.freeAfter, side.freeBefore, `${side.mode} pool`);
          assertEquals(side.freeBefore, side.capacity, `${side.mode} pool`);
        }
      },
      { timeoutMs: 150_000 },
    );
  }

  test(
    "a buffer sent on its own and in a chain of the same burst, and a chain naming one buffer twice, leave as described",
    async () => {
      const dir = tempDir("gso-alias");
      const prefix = uniquePrefix("gso-alias");
      try {
        const r = resultOf(
          await runChild("gso_alias.ts", [prefix, join(dir, "memif.sock")], { timeoutMs: 60_000 }),
        );
        // The GSO input is linked from the zone's own buffers: the single frame keeps its own offset and length.
        assertEquals(r.singleThenChain, {
          frames: 4,
          single: true,
          segments: [[1000, 500], [1500, 500], [2000, 500]],
          bytes: true,
        });
        assertEquals(r.bufferTwice, {
          frames: 3,
          segments: [[5000, 500], [5500, 500], [6000, 200]],
          bytes: true,
        });
        assertEquals(r.stats, { txInvalidRefused: 0, txSegDropped: 0 });
        assertEquals(r.freeAfter, r.freeBefore, "every buffer back, on both ports");
        assertEquals(r.freeBefore, r.capacity);
      } finally {
        removeEalFiles(prefix);
        rmSync(dir, { recursive: true, force: true });
      }
    },
    { timeoutMs: 90_000 },
  );

  test(
    "a ring the peer does not drain: a packet cut and refused whole waits in the backlog, no packet is cut twice, every frame arrives once and in order",
    async () => {
      const dir = tempDir("gso-full");
      const prefix = uniquePrefix("gso-full");
      try {
        const r = resultOf(
          await runChild("gso_ring_full.ts", [prefix, join(dir, "memif.sock")], { timeoutMs: 60_000 }),
        );
        assert(r.full.smalls > 0, "single frames filled the ring");
        // The first large packet fit the room the peer made; the second was cut, refused whole, and held.
        assertEquals(r.full, { smalls: r.full.smalls, packetsTaken: 2, cut: 2, refused: 0, backlog: 1 });
        assertEquals([r.got, r.bad], [r.frames, 0], "every frame once, in order, its bytes");
        assertEquals([r.cut, r.segments, r.dropped], [r.packets, r.packets * 15, 0], "each packet cut once");
        assertEquals(r.freeAfter, r.freeBefore, "every buffer back, on both ports");
      } finally {
        removeEalFiles(prefix);
        rmSync(dir, { recursive: true, force: true });
      }
    },
    { timeoutMs: 90_000 },
  );

  test(
    "packets cut in one transmit call go to the driver in one burst; what a ring with little room refuses of the step waits in the backlog, nothing cut twice or lost",
    async () => {
      const dir = tempDir("gso-batch");
      const prefix = uniquePrefix("gso-batch");
      try {
        const r = resultOf(
          await runChild("gso_batch.ts", [prefix, join(dir, "memif.sock")], { timeoutMs: 60_000 }),
        );
        // Sixteen 4 KiB answers (three segments each): one call of the driver, not sixteen.
        const none = { refused: 0, dropped: 0 };
        assertEquals(r.roomy, {
          records: 48,
          taken: 48,
          backlog: 0,
          pmdCalls: 1,
          cut: 16,
          segments: 48,
          ...none,
        });
        // Room for 20 frames, four packets of 15 segments in one step: the driver takes 20, the other
        // 40 segments wait cut, and all four packets are taken.
        assertEquals(r.partial, { packetsTaken: 4, backlog: 1, pmdCalls: 1, cut: 4, segments: 60, ...none });
        assertEquals(r.after, { cut: 4, segments: 60, ...none }, "each packet cut once");
        assertEquals([r.frames, r.bad], [r.framesSent, 0], "every frame once, in order, its bytes");
        assertEquals(r.freeAfter, r.freeBefore, "every buffer back, on both ports");
      } finally {
        removeEalFiles(prefix);
        rmSync(dir, { recursive: true, force: true });
      }
    },
    { timeoutMs: 90_000 },
  );
});
