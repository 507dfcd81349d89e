// The `checksums` setting (RFC 1071 sums, RFC 791 and RFC 9293 3.1 fields):
// over net_memif, "auto" computes and verifies none (shared memory between
// two processes, as a veth); "always" computes and verifies them there too.
// Each end runs in its own child process (the EAL starts once per process).
import { assert, assertEquals, assertInstanceOf, assertThrows } from "@std/assert";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs, UsageError } from "../src/cli/args.ts";
import { ConfigError, parseStackConfig } from "../src/mod.ts";
import { Child, explain, removeEalFiles, resultOf, runChild, tempDir, uniquePrefix } from "./child.ts";
import { describe, test } from "./harness.ts";

/** Runs an echo server and a client over memif with these settings; returns the lines they ended on. */
async function exchange(
  serverSetting: string,
  clientSetting: string,
  bytes?: number,
): Promise<{ server: string; client: string }> {
  const dir = tempDir("cksum");
  const socket = join(dir, "memif.sock");
  const sp = uniquePrefix("cksum-srv");
  const cp = uniquePrefix("cksum-cli");
  const server = new Child("memif_checksums.ts", ["server", sp, socket, serverSetting], {
    timeoutMs: 60_000,
  });
  let client: Child | undefined;
  let ended: { server: string; client: string } | undefined;
  // A child that exited with an error (not by our kill) is the failure to report.
  let failed: string | undefined;
  try {
    await server.waitFor(/^READY/, 30_000);
    const args = ["client", cp, socket, clientSetting, ...(bytes === undefined ? [] : [String(bytes)])];
    client = new Child("memif_checksums.ts", args, { timeoutMs: 60_000 });
    const ending = /^(ECHOED|BADCKSUM|TIMEOUT|MISMATCH) /;
    const c = await Promise.race([
      client.waitFor(ending, 40_000).then((l) => ({ who: "client", l })),
      server.waitFor(/^(BADCKSUM|TIMEOUT) /, 40_000).then((l) => ({ who: "server", l })),
    ]);
    const other = c.who === "client" ? server : client;
    const otherLine = other.stdout.split("\n").find((l) => ending.test(l)) ?? "";
    ended = c.who === "client" ? { client: c.l, server: otherLine } : { server: c.l, client: otherLine };
  } finally {
    for (const ch of [server, client]) {
      if (ch === undefined) continue;
      ch.process.kill("SIGKILL");
      const r = await ch.done();
      if (r.signal === null && r.code !== 0) failed ??= explain(r);
    }
    removeEalFiles(sp);
    removeEalFiles(cp);
    rmSync(dir, { recursive: true, force: true });
  }
  if (failed !== undefined) throw new Error(failed);
  return ended;
}

describe("checksums", () => {
  test("the setting is auto or always, named in its error; luna serve takes --checksums", () => {
    assertEquals(
      parseStackConfig({ device: "memif:/tmp/x.sock,server", address: "198.18.9.1/24" }).checksums,
      "auto",
    );
    for (const bad of ["never", 1, true]) {
      try {
        parseStackConfig({ device: "memif:/tmp/x.sock,server", address: "198.18.9.1/24", checksums: bad });
        throw new Error(`accepted ${bad}`);
      } catch (e) {
        assertInstanceOf(e, ConfigError);
        assertEquals(e.field, "checksums");
      }
    }
    const base = ["serve", "echo", "--device", "memif:/tmp/x.sock,server", "--address", "198.18.9.1/24"];
    const cmd = parseArgs([...base, "--checksums", "always"]);
    assert(cmd.kind === "serve");
    assertEquals(cmd.options.config.checksums, "always");
    assertEquals(
      assertThrows(() => parseArgs([...base, "--checksums", "never"]), UsageError).arg,
      "--checksums",
    );
  });

  test("memif, auto at both ends: the exchange completes with no checksum dropped", async () => {
    const r = await exchange("auto", "auto");
    assert(r.client.startsWith("ECHOED "), JSON.stringify(r));
    assertEquals(JSON.parse(r.client.slice(7)).badChecksums, 0);
  });

  test("memif, always at both ends: the exchange completes, every checksum computed and verified", async () => {
    const r = await exchange("always", "always");
    assert(r.client.startsWith("ECHOED "), JSON.stringify(r));
    assertEquals(JSON.parse(r.client.slice(7)).badChecksums, 0);
  });

  test("memif, always at both ends: 4 MiB in writes of every size echo intact, every checksum verified", async () => {
    // The sender sums the payload as the writes copy it in (hot sums) and the segments cut
    // from it, whole or in part, topped up or not, must carry the checksum the bytes have.
    const bytes = 4 << 20;
    const r = await exchange("always", "always", bytes);
    assert(r.client.startsWith("ECHOED "), JSON.stringify(r));
    assertEquals(JSON.parse(r.client.slice(7)), { bytes, badChecksums: 0 });
  });

  test("payload summed as it was copied in: segments cut anywhere from it, topped up or retaken, verify", async () => {
    const dir = tempDir("hot-sums");
    const prefix = uniquePrefix("hot-sums");
    try {
      const r = resultOf(
        await runChild("hot_sums.ts", [prefix, join(dir, "memif.sock")], { timeoutMs: 60_000 }),
      );
      assertEquals(r.whole, { frames: 4, badSums: 0, bytes: true });
      assertEquals(r.cut1447, { frames: 4, badSums: 0, bytes: true });
      assertEquals(r.cut500, { frames: 11, badSums: 0, bytes: true });
      assertEquals(r.toppedUp, { frames: 1, badSums: 0, bytes: true });
      assertEquals(r.toppedUpByCopy, { frames: 4, badSums: 0, bytes: true });
      // The cache hands out its last buffer in first: the case is the one it means to be.
      assertEquals(r.retaken, { same: true, frames: 1, badSums: 0, bytes: true });
      assertEquals(r.stats, { txInvalidRefused: 0, txSegDropped: 0 });
      assertEquals(r.freeAfter, r.freeBefore);
      assertEquals(r.freeBefore, r.capacity);
    } finally {
      removeEalFiles(prefix);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("memif: an end that verifies drops what an auto end sends, which carries no checksum", async () => {
    const r = await exchange("always", "auto");
    assert(
      r.server.startsWith("BADCKSUM "),
      `the verifying server dropped the client's segments: ${JSON.stringify(r)}`,
    );
    assert(JSON.parse(r.server.slice(9)).badChecksums > 0);
    assert(!r.client.startsWith("ECHOED "), JSON.stringify(r));
  });
});
