// memif in zero-copy (`memif:PATH,client,zero-copy`): the client's frames
// leave from, and arrive in, its own pool's buffers, which the server maps
// (hugepages, one file per segment list). Two stacks in child processes, each
// on its own --file-prefix, echo every byte intact over it, and the zero-copy
// side gets its buffers back, on hugepages (which the test reserves, as root,
// and gives back) and on --no-huge memory (one memfd). In the server role the
// spec is refused with a ConfigError, and memory another process cannot map
// is refused by a check before the port starts: never copy mode instead.
import { assert, assertEquals, assertThrows } from "@std/assert";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, parseDeviceSpec, parseStackConfig } from "../src/mod.ts";
import { reserveHugepages } from "../src/lab/hugepages.ts";
import { Child, explain, removeEalFiles, runChild, tempDir, uniquePrefix } from "./child.ts";
import { describe, test } from "./harness.ts";

describe("memif zero-copy", () => {
  test("the spec asks DPDK for the zero-copy client, and is refused where it cannot be one", () => {
    const spec = parseDeviceSpec("memif:/tmp/zc.sock,client,zero-copy");
    assertEquals(spec.sharesPool, true);
    assert(spec.vdevs[0].endsWith(",zero-copy=yes,rsize=11"), spec.vdevs[0]);
    assertEquals(parseDeviceSpec("memif:/tmp/zc.sock,client").sharesPool, undefined);
    // Written out as raw device arguments, the same.
    assertEquals(parseDeviceSpec("eal:net_memif0,role=client,zero-copy=yes").sharesPool, true);
    assertEquals(parseDeviceSpec("eal:net_memif0,role=client,zero-copy=no").sharesPool, undefined);
    // DPDK's memif shares its buffers in the client role only.
    assertThrows(
      () => parseDeviceSpec("memif:/tmp/zc.sock,server,zero-copy"),
      ConfigError,
      "client role only",
    );
    assertThrows(() => parseDeviceSpec("memif:/tmp/zc.sock,client,zerocopy"), ConfigError, "zero-copy");
    // Either memory luna-ts starts the EAL with is shareable: no setting needed.
    parseStackConfig({ device: "memif:/tmp/zc.sock,client,zero-copy", address: "198.18.7.2/24" });
  });

  test("memory that is not one file per segment list is refused by the shim's check", async () => {
    const pages = reserveHugepages(32); // 64 MiB of EAL memory
    const prefix = uniquePrefix("zc-unshared");
    try {
      const z = await runChild("zc_unshareable.ts", [prefix], { timeoutMs: 60_000 });
      const r = z.result;
      assert(r !== undefined && z.code === 0, explain(z));
      assert((r.rc as number) < 0 && /not one file/.test(r.error as string), JSON.stringify(r));
    } finally {
      removeEalFiles(prefix);
      pages.release();
    }
  }, { timeoutMs: 90_000 });

  test(
    "two stacks echo every byte over a zero-copy memif, and the zero-copy side gets its buffers back",
    async () => {
      const conns = 8;
      const bytes = 1 << 20;
      // 256 MiB of EAL memory on the zero-copy side (the echo side runs --no-huge).
      const pages = reserveHugepages(128);
      const dir = tempDir("memif-zc");
      const socket = join(dir, "memif.sock");
      const ep = uniquePrefix("zc-echo");
      const zp = uniquePrefix("zc-client");
      const echo = new Child("memif_zero_copy.ts", ["echo", ep, socket, String(conns), String(bytes)], {
        timeoutMs: 60_000,
      });
      try {
        await echo.waitFor(/^READY/, 30_000);
        const z = await runChild("memif_zero_copy.ts", ["zc", zp, socket, String(conns), String(bytes)], {
          timeoutMs: 60_000,
        });
        const r = z.result;
        assert(r !== undefined && z.code === 0, explain(z));
        assertEquals(
          [r.error, r.done, r.back, r.wrong],
          [undefined, conns, conns * bytes, 0],
          JSON.stringify(r),
        );
        assert(
          (r.tcp as { outLargeSegs: number }).outLargeSegs > 0,
          "large segments, cut by GSO, left zero-copy",
        );
        // What is still out once every connection closed: the receive ring's lent buffers (as
        // when the link came up) and the last frames sent, until the server has read them.
        const held = (r.inUseEnd as number) - (r.inUseUp as number);
        assert(
          held >= -64 && held <= 64,
          `buffers in use: ${r.inUseUp} with the link up, ${r.inUseEnd} at the end`,
        );
        const e = await echo.done();
        assert(e.code === 0 && e.result?.echoed === conns * bytes, explain(e));
      } finally {
        echo.process.kill("SIGKILL");
        await echo.done();
        removeEalFiles(ep);
        removeEalFiles(zp);
        rmSync(dir, { recursive: true, force: true });
        pages.release();
      }
    },
    { timeoutMs: 90_000 },
  );

  test("a burst that mixes cut packets and single frames never overruns the zero-copy ring", async () => {
    const dir = tempDir("zc-full");
    const prefix = uniquePrefix("zc-full");
    try {
      const z = await runChild("zc_ring_full.ts", [prefix, join(dir, "memif.sock")], { timeoutMs: 60_000 });
      const r = z.result;
      assert(r !== undefined && z.code === 0, explain(z));
      assertEquals(r.shareable, 0, "--no-huge memory is one shareable file");
      assert((r.smalls as number) > 0, "single frames filled the ring");
      // 5 free slots: the cut packet's segments (a header buffer and payload links each) fill
      // them; the single frames behind it wait. Handed all 6 at once, DPDK's transmit took
      // all 6, writing single frames over slots the server had not read.
      assertEquals(r.firstTaken, 2, JSON.stringify(r));
      assertEquals([r.got, r.bad], [r.frames, 0], "every frame once, in order, its bytes");
      // The last frame sent stays lent to the ring until the next transmit.
      assert((r.inUseAfter as number) <= (r.inUseBefore as number) + 1, JSON.stringify(r));
    } finally {
      removeEalFiles(prefix);
      rmSync(dir, { recursive: true, force: true });
    }
  }, { timeoutMs: 90_000 });
});
