// A stack per process more than once, and the first errors a new user meets:
// a stack made, closed and made again in one process (the first one failing),
// two at once; not root, a missing capability, Deno without a permission, a
// device of the wrong type, and listen(0) / listen() picking a free port.
import { assert, assertEquals, assertInstanceOf, assertMatch, assertStringIncludes } from "@std/assert";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer } from "../src/api/net.ts";
import { ConfigError, createHeapZone, createMemoryLink, createStack, parseStackConfig } from "../src/mod.ts";
import { childScript, explain, removeEalFiles, runChild, tempDir, uniquePrefix } from "./child.ts";
import { describe, test } from "./harness.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const bunBin = join(root, "node_modules", ".bin", "bun");
const denoBin = join(root, "node_modules", ".bin", "deno");

/** A script that makes a stack on `af_packet:lo` and prints the error's name and message. */
function probeScript(): string {
  const dir = tempDir("probe");
  chmodSync(dir, 0o755); // read by a user that is not root, too
  const script = join(dir, "probe.ts");
  writeFileSync(
    script,
    `import { createStack } from ${JSON.stringify(join(root, "src", "mod.ts"))};
try {
  await createStack({ device: "af_packet:lo", address: "198.18.0.1/24", eal: { prefix: process.argv[2] ?? "p" } });
  console.log("created");
} catch (e) {
  console.log("ERROR " + e.name + ": " + e.message.split("\\n")[0]);
}
`,
  );
  return script;
}

/** Runs `f` with a fresh probe script, removed afterwards. */
function withProbe(f: (script: string) => void): void {
  const script = probeScript();
  try {
    f(script);
  } finally {
    rmSync(dirname(script), { recursive: true, force: true });
  }
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 60_000 });
  return `${r.stdout}${r.stderr}`;
}

describe("a stack per process, more than once", () => {
  test("after a failed createStack, make, close and make again; two at once echo over memif; nothing left in /var/run/dpdk", async () => {
    const prefix = uniquePrefix("lifecycle");
    try {
      const r = await runChild("stack_lifecycle.ts", [prefix], { timeoutMs: 90_000 });
      assertEquals(r.code, 0, explain(r));
      const out = r.result as Record<string, any>;
      assertStringIncludes(out.failed, "DPDK has no driver that makes 'net_bogus0'");
      assertEquals(out.leftAfterFailed, []);
      assertEquals(out.remade, ["net_null0/0", "net_null0/0", "net_null0/0"]);
      assertEquals(out.leftAfterClose, []);
      assertEquals(out.together, ["net_memif0/0", "net_memif1/0", "two stacks"]);
      assertStringIncludes(out.otherEal, "EalError: the EAL of this process runs with");
      assertStringIncludes(out.otherEal, "only devices differ per stack");
      assertEquals(out.leftAtEnd, []);
    } finally {
      removeEalFiles(prefix);
    }
  });
});

describe("the first errors name their cause", () => {
  test("not root: the error says root (or which capabilities), first", () =>
    withProbe((script) => {
      const out = run("setpriv", ["--reuid", "65534", "--regid", "65534", "--clear-groups", bunBin, script]);
      assertMatch(
        out,
        /ERROR NoSuchPortError: this process runs as uid 65534, not root: DPDK's devices need root/,
      );
      assertStringIncludes(out, "CAP_NET_RAW");
    }));

  test("root without CAP_NET_RAW: the error names the capability", () =>
    withProbe((script) => {
      const prefix = uniquePrefix("nocap");
      const out = run("capsh", ["--drop=cap_net_raw", "--", "-c", `'${bunBin}' '${script}' ${prefix}`]);
      assertStringIncludes(out, "ERROR NoSuchPortError: root here lacks CAP_NET_RAW", out);
      removeEalFiles(prefix);
    }));

  test("Deno without --allow-ffi, --allow-run or --allow-read: the error names the flag", () =>
    withProbe((script) => {
      const config = ["--config", join(root, "deno.json")];
      const noFfi = run(denoBin, ["run", ...config, "--allow-read", "--allow-env", "--allow-sys", script]);
      assertStringIncludes(noFfi, "ERROR ShimLoadError: Deno was not given --allow-ffi", noFfi);
      const noRun = run(denoBin, [
        "run",
        ...config,
        "--allow-read",
        "--allow-env",
        "--allow-sys",
        "--allow-ffi",
        script,
      ]);
      assertStringIncludes(
        noRun,
        "Deno was not given --allow-run (it runs ip, iptables): run it with --allow-run",
        noRun,
      );
      const noRead = run(denoBin, ["run", ...config, "--allow-env", "--allow-sys", "--allow-ffi", script]);
      assertStringIncludes(noRead, "--allow-read", noRead);
    }));

  test("a device of the wrong type names the field and the forms it takes", () => {
    for (const device of [42, null, { rx: 1 }, ["af_packet:lo"]]) {
      try {
        parseStackConfig({ device, address: "198.18.0.1/24" });
        throw new Error(`accepted ${JSON.stringify(device)}`);
      } catch (e) {
        assertInstanceOf(e, ConfigError);
        assertEquals(e.field, "device");
        assertStringIncludes(
          e.message,
          "device: expected a device spec string (af_packet:IFACE, af_xdp:IFACE",
        );
        assertStringIncludes(e.message, "or a Device object (createMemoryLink), got ");
      }
    }
    assertThrowsText(() => parseStackConfig({ device: 42, address: "198.18.0.1/24" }), "got number 42");
  });

  test("listen(0) and listen() pick a free ephemeral port that address() reports", async () => {
    const za = createHeapZone({ name: "a", count: 512 });
    const [la] = createMemoryLink({ zone: za });
    const stack = await createStack({ device: la, address: "198.18.0.1/24" });
    try {
      const ports: number[] = [];
      for (const listen of [(s: ReturnType<typeof createServer>) => s.listen(0), (s: any) => s.listen()]) {
        const server = createServer(stack, () => {});
        const errors: unknown[] = [];
        server.on("error", (e) => errors.push(e));
        const listening = new Promise<void>((resolve) => server.once("listening", () => resolve()));
        listen(server);
        await listening;
        assertEquals(errors, []);
        const port = server.address()?.port ?? 0;
        assert(port >= 49152 && port <= 65535, `port ${port}`);
        ports.push(port);
      }
      assert(ports[0] !== ports[1], `two servers on one port ${ports[0]}`);
      const direct = stack.listen(0, () => {});
      assert(direct >= 49152 && !ports.includes(direct), `stack.listen(0) gave ${direct}`);
    } finally {
      await stack.close(100);
    }
  });
});

function assertThrowsText(f: () => unknown, text: string): void {
  try {
    f();
  } catch (e) {
    assertStringIncludes((e as Error).message, text);
    return;
  }
  throw new Error("did not throw");
}

assert(existsSync(childScript("stack_lifecycle.ts")));
