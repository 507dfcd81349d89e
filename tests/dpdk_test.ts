// DPDK through the shim, in child processes: the EAL starts once per
// process, so each case runs in its own, on its own --file-prefix.
import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { rmSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { Child, explain, removeEalFiles, resultOf, runChild, tempDir, uniquePrefix } from "./child.ts";
import { describe, test } from "./harness.ts";

const frames = 100_000;

async function errorsCase(which: string): Promise<Record<string, any>> {
  const prefix = uniquePrefix(which);
  try {
    const r = await runChild("eal_errors.ts", [which, prefix], { timeoutMs: 60_000 });
    assertEquals(r.code, 0, explain(r));
    assert(r.result !== undefined, explain(r));
    return r.result as Record<string, any>;
  } finally {
    removeEalFiles(prefix);
    removeEalFiles(prefix + "b");
  }
}

describe("dpdk", () => {
  test("the EAL's default lcore stays on the CPUs the process was given (taskset): the stack is never moved off them", async () => {
    const n = cpus().length;
    assert(n >= 2, `this test needs two CPUs, the machine has ${n}`);
    const last = String(n - 1);
    const prefix = uniquePrefix("affinity");
    try {
      const r = await runChild("eal_affinity.ts", [prefix], {
        wrap: ["taskset", "-c", last],
        timeoutMs: 60_000,
      });
      assertEquals(resultOf(r), { before: last, after: last });
    } finally {
      removeEalFiles(prefix);
    }
  });

  test(`net_ring pair: ${frames} frames of 60..1514 bytes arrive intact and every buffer comes back`, async () => {
    const prefix = uniquePrefix("ring");
    try {
      const res = resultOf(await runChild("ring_transfer.ts", [prefix, String(frames)], { timeoutMs: 120_000 }));
      assertEquals(res.bad, 0, res.firstBad);
      assertEquals(res.sent, frames);
      assertEquals(res.received, frames);
      assertEquals(res.stats.a.opackets, frames);
      assertEquals(res.stats.b.ipackets, frames);
      assertEquals(res.freeAfter, res.freeBefore);
      assertEquals(res.poolAvailAfter, res.poolAvailBefore);
      assertEquals(res.freeBefore, res.capacity);
      assertEquals(res.refcntUpdate, { up: 4, counts: [2, 2, 2, 2], down: 4 });
      assertEquals(res.xstats.b.rx_good_packets, frames);
      assertEquals(res.xstats.a.tx_good_packets, frames);
    } finally {
      removeEalFiles(prefix);
    }
  }, { timeoutMs: 150_000 });

  test("zone.copyIn fills buffers from a source view in one native call; a range outside a data room, a non-buffer or a short source is refused, nothing copied", async () => {
    const prefix = uniquePrefix("zonecopy");
    try {
      const res = resultOf(await runChild("zone_copy.ts", [prefix], { timeoutMs: 60_000 }));
      assert(res.total > 100_000, `bytes copied: ${res.total}`);
      assertEquals(res.bad, 0, "every byte where it belongs");
      assertEquals(res.refusals, []);
      assertEquals([res.freeAfter, res.freeBefore], [res.capacity, res.capacity]);
    } finally {
      removeEalFiles(prefix);
    }
  });

  test("a burst into a full ring: the shim makes at most a step's worth (64) of mbufs the ring refuses, and every frame still arrives in order", async () => {
    const prefix = uniquePrefix("ringfull");
    try {
      const res = resultOf(await runChild("ring_full.ts", [prefix], { timeoutMs: 60_000 }));
      assert(res.tookFirst > 0 && res.tookFirst < 512, `the ring took part of the burst: ${res.tookFirst}`);
      assertEquals(res.tookSecond, 0, "a full ring takes nothing");
      // Before the steps, every record offered was made into an mbuf on every call (449 and
      // 449 here): with hundreds waiting behind a full ring, each poll redid them all.
      assert(res.refusedFirst <= 64, `made and refused at the first call: ${res.refusedFirst}`);
      assert(res.refusedSecond <= 64, `made and refused at the second: ${res.refusedSecond}`);
      assert(res.refusedSecond > 0, "a call into a full ring still tries a step");
      assertEquals([res.sent, res.received, res.bad], [512, 512, 0], res.firstBad);
      assertEquals(res.freeAfter, res.freeBefore);
      assertEquals(res.freeBefore, res.capacity);
    } finally {
      removeEalFiles(prefix);
    }
  });

  test(`net_memif between two processes: ${frames} frames arrive intact and both pools balance`, async () => {
    const dir = tempDir("memif");
    const socket = join(dir, "memif.sock");
    const rp = uniquePrefix("memif-rx");
    const sp = uniquePrefix("memif-tx");
    const receiver = new Child("memif_peer.ts", ["recv", rp, socket, String(frames)], { timeoutMs: 120_000 });
    try {
      await receiver.waitFor(/^READY/);
      const sender = resultOf(await runChild("memif_peer.ts", ["send", sp, socket, String(frames)], { timeoutMs: 120_000 }));
      const recv = resultOf(await receiver.done());
      assertEquals(recv.bad, 0, recv.firstBad);
      assertEquals(recv.done, frames);
      assertEquals(sender.done, frames);
      assertEquals(recv.bytes, sender.bytes);
      assert(sender.acked, "the sender saw the receiver's acknowledgement");
      assertEquals(recv.stats.ipackets, frames);
      for (const side of [recv, sender]) {
        assertEquals(side.freeAfter, side.freeBefore, `${side.mode} pool`);
        assertEquals(side.freeBefore, side.capacity, `${side.mode} pool`);
      }
    } finally {
      receiver.process.kill("SIGKILL");
      removeEalFiles(rp);
      removeEalFiles(sp);
      rmSync(dir, { recursive: true, force: true });
    }
  }, { timeoutMs: 150_000 });

  test("bad EAL arguments are EalError with DPDK's reason, and the EAL cannot be retried", async () => {
    const r = await errorsCase("bad-args");
    assertEquals(r.bad.name, "EalError");
    assertStringIncludes(r.bad.message, "--no-such-eal-option");
    assertStringIncludes(r.bad.message, "Invalid 'command line' arguments");
    assertEquals(r.retry.name, "EalError");
    assertStringIncludes(r.retry.message, "once per process");
  });

  test("starting the EAL twice is EalError; using it after close is EalError", async () => {
    const r = await errorsCase("second-init");
    assertEquals(r.second.name, "EalError");
    assertStringIncludes(r.second.message, "already running");
    assertEquals(r.afterClose.name, "EalError");
    assertEquals(r.zoneAfterClose.name, "BufferError");
    assertEquals(r.rawAfterClose, -2, "the shim refuses a pool after cleanup (ENOENT)");
  });

  test("a port that does not exist is NoSuchPortError, by id, by name and by device", async () => {
    const r = await errorsCase("no-port");
    assertEquals(r.portCount, 0);
    assertEquals(r.byId.name, "NoSuchPortError");
    assertStringIncludes(r.byId.message, "port 7 does not exist");
    assertEquals(r.byName.name, "NoSuchPortError");
    assertStringIncludes(r.byName.message, "net_nothing_here");
    assertEquals(r.attach.name, "NoSuchPortError");
    assertStringIncludes(r.attach.message, "net_bogus0");
  });

  test("an offload or queue count the port does not offer is PortError naming it", async () => {
    const r = await errorsCase("offload");
    assertEquals(r.offered, 0);
    assertEquals(r.tcpCksum.name, "PortError");
    assertStringIncludes(r.tcpCksum.message, "ENOTSUP");
    assertStringIncludes(r.tcpCksum.message, "offloads asked");
    assertEquals(r.queues.name, "PortError");
    assertStringIncludes(r.queues.message, "4 rx / 1 tx queues asked");
    assertEquals(r.badRing.name, "ConfigError");
    assertStringIncludes(r.badRing.message, "rxDesc");
    assertEquals(r.startUnconfigured.name, "PortError");
    assertStringIncludes(r.startUnconfigured.message, "configure it before starting");
  });

  test("a Worker thread registers with the EAL and uses the main thread's pool", async () => {
    const prefix = uniquePrefix("worker");
    try {
      const r = resultOf(await runChild("worker_register.ts", [prefix], { timeoutMs: 60_000 }));
      assertEquals(r.mainLcore, 0);
      assertEquals(r.lcore, 1);
      assertEquals(r.again, 1, "registering twice keeps the lcore");
      assertEquals([r.took, r.distinct, r.freed, r.unregistered], [64, 64, 64, 0]);
      assertEquals(r.accounting, { capacity: 1023, free: 1023, inUse: 0, cached: 0 });
    } finally {
      removeEalFiles(prefix);
    }
  });

  test("an exhausted pool is PoolExhaustedError; misuse of buffers is BufferError", async () => {
    const r = await errorsCase("exhausted");
    assertEquals(r.taken, 63);
    assertEquals(r.distinct, 63);
    assertEquals(r.error.name, "PoolExhaustedError");
    assertEquals(r.inUseFull, 63);
    assertEquals(r.bulk.name, "PoolExhaustedError");
    assertEquals(r.doubleRelease.name, "BufferError");
    assertEquals(r.notAHandle.name, "BufferError");
    assertEquals(r.after, { capacity: 63, free: 63, inUse: 0, cached: 0 });
    assertEquals(r.badPool.name, "EalError");
    assertMatch(r.badPool.message, /cannot reserve/);
  });
});
