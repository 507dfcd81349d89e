// The shim's software checksum (c-shims/luna_cksum.h: RFC 1071 sums, AVX2
// where the CPU has it, a scalar loop where not) against a plain 16-bit
// loop, in C: c-shims/test/cksum_test.c, compiled here with the shim's
// flags, checks every length 0..2048 at every start offset 0..63, the
// extremes, long buffers and chains cut at random points.
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "./child.ts";
import { describe, test } from "./harness.ts";

const source = fileURLToPath(new URL("../c-shims/test/cksum_test.c", import.meta.url));

/** Runs a command to its end (bounded), failing loudly where it cannot start. */
function run(cmd: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 60_000 });
  if (r.error !== undefined) throw new Error(`${cmd} could not run: ${r.error.message}`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe("shim checksum", () => {
  test("every length, offset and chain cut sums as the 16-bit loop does", () => {
    const dir = tempDir("cksum-c");
    try {
      const bin = join(dir, "cksum_test");
      // The shim's flags: DPDK's (-march among them) under its warnings.
      const dpdk = run("pkg-config", ["--cflags", "libdpdk"]);
      assertEquals(dpdk.status, 0, `pkg-config libdpdk failed (DPDK's headers missing?):\n${dpdk.out}`);
      const flags = dpdk.out.trim().split(/\s+/).filter((f) => f !== "");
      const cc = run("gcc", ["-O2", "-Wall", "-Wextra", "-Werror", ...flags, source, "-o", bin]);
      assertEquals(cc.status, 0, `gcc failed:\n${cc.out}`);
      // Two seeds: the fixed default and one from this run (printed on a mismatch).
      for (const seed of ["", String(Math.floor(Math.random() * 2 ** 32))]) {
        const r = run(bin, seed === "" ? [] : [seed]);
        assertEquals(r.status, 0, r.out);
        assertStringIncludes(r.out, "ok");
        assert(/avx2 (checked|absent)/.test(r.out), r.out);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
