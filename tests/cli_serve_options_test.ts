// `luna serve --lcores` and `--tx-flush`: a bad value is refused in one line naming the option, and
// a good one reaches the running stack (the EAL's main thread on the CPU the mapping names; the
// loop's early transmit, as the control socket reports it).
import { assert, assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { chmodSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parseArgs, UsageError } from "../src/cli/args.ts";
import { listStacks } from "../src/control/client.ts";
import { Child, explain, removeEalFiles, runChild, tempDir, uniquePrefix } from "./child.ts";
import { describe, test } from "./harness.ts";
import { lunaScript } from "./lab_peers.ts";

const base = ["serve", "echo", "--device", "memif:/tmp/luna-opts.sock,server", "--address", "198.18.9.1/24"];

/** The CPUs a thread may run on, from its /proc status ("1", "0-1"). */
function cpusAllowed(pid: number): string {
  const m = /^Cpus_allowed_list:\s*(\S+)\s*$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  assert(m !== null, `no Cpus_allowed_list for ${pid}`);
  return m[1];
}

describe("luna serve --lcores, --tx-flush", () => {
  test("bad values are refused naming the option; good ones reach the stack's configuration", () => {
    const bad: [string, string, string][] = [
      ["--lcores", "x", "is not an lcore mapping"],
      ["--lcores", "0@", "is not an lcore mapping"],
      ["--lcores", "0@1,", "is not an lcore mapping"],
      ["--lcores", "0@(1-0)", "runs backwards"],
      ["--lcores", "0@4096", "does not exist here"],
      ["--tx-flush", "513", "expected an integer 0..512"],
      ["--tx-flush", "many", "expected an integer 0..512"],
      ["--idle-sleep", "100001", "expected an integer 0..100000"],
      ["--idle-sleep", "-1", "expected an integer 0..100000"],
    ];
    for (const [flag, value, why] of bad) {
      const e = assertThrows(() => parseArgs([...base, flag, value]), UsageError);
      assertEquals(e.arg, flag, value);
      assertStringIncludes(e.message, why, value);
      assertEquals(e.message.split("\n").length, 1);
    }
    for (const lcores of ["0@0", "0@(0)", "(0)@(0)", "0"]) {
      const c = parseArgs([...base, "--lcores", lcores, "--prefix", "p"]);
      assert(c.kind === "serve");
      assertEquals(c.options.config.eal, { prefix: "p", lcores });
    }
    const c = parseArgs([...base, "--tx-flush", "0"]);
    assert(c.kind === "serve");
    assertEquals(c.options.config.txFlushFrames, 0);
    const idle = parseArgs([...base, "--idle-sleep", "0"]);
    assert(idle.kind === "serve");
    assertEquals(idle.options.config.idleSleepUs, 0);
  });

  test("a bad --lcores stops luna serve with one line naming it, before the EAL starts", async () => {
    const r = await runChild(lunaScript, [...base, "--lcores", "0@9999", "--no-control"], {
      timeoutMs: 60_000,
    });
    assert(r.code === 2, explain(r));
    const lines = r.stderr.trim().split("\n");
    assertEquals(lines.length, 1, explain(r));
    assertStringIncludes(lines[0], "--lcores: CPU 9999 does not exist here");
  });

  test("luna serve: --lcores puts the EAL's main thread on its CPU; --tx-flush is the loop's early transmit, --idle-sleep its idle sleeps", async () => {
    const dir = tempDir("opts");
    chmodSync(dir, 0o755);
    const prefix = uniquePrefix("serve-opts");
    // The last CPU this process may use: a mapping that differs from the default (all of them) where
    // there are two or more.
    const allowed = cpusAllowed(process.pid);
    const cpu = Number(allowed.split(/[,-]/).at(-1));
    const child = new Child(lunaScript, [
      "serve",
      "echo",
      "--device",
      `memif:${join(dir, "memif.sock")},server`,
      "--address",
      "198.18.9.1/24",
      "--prefix",
      prefix,
      "--name",
      "opts",
      "--lcores",
      `0@${cpu}`,
      "--tx-flush",
      "3",
      "--idle-sleep",
      "200",
    ], { env: { LUNA_CONTROL_DIR: dir }, timeoutMs: 60_000 });
    try {
      await child.waitFor(/^luna: serving echo/, 30_000);
      const entry = (await listStacks(dir)).find((e) => e.name === "opts");
      assertEquals(entry?.status, "live", JSON.stringify(entry));
      const info = entry!.info!;
      assertEquals(info.txFlushFrames, 3);
      assertEquals(info.idleSleepUs, 200);
      // The stack runs on the process's main thread, which the EAL pinned to its main lcore's CPUs.
      assertEquals(cpusAllowed(Number(info.pid)), String(cpu), `allowed before: ${allowed}`);
      process.kill(child.process.pid!, "SIGINT");
      const run = await child.done();
      assertEquals(run.code, 0, explain(run));
    } finally {
      if (child.process.exitCode === null && child.process.signalCode === null) child.process.kill("SIGKILL");
      await child.done();
      removeEalFiles(prefix);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
