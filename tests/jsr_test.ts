// luna-ts on JSR: `deno publish --dry-run` passes (no slow types, a license,
// a publish list that is the library), `deno doc --lint` is clean on every
// entry point, the versions agree, and the shim loader works from an http(s)
// URL, where the package has no files: it names the setup command when the
// shim is missing, and loads the shim from the cache directory.
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { lunaVersion } from "../ffi/_locate.ts";
import { SHIM_ABI } from "../ffi/symbols.ts";
import { tempDir } from "./child.ts";
import { describe, test } from "./harness.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const deno = join(root, "node_modules", ".bin", "deno");
const entryPoints = [
  "src/mod.ts",
  "src/api/net.ts",
  "src/workers/mod.ts",
  "ffi/mod.ts",
  "ffi/setup.ts",
  "src/compile.ts",
];

function run(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): { code: number | null; out: string } {
  const r = spawnSync(deno, args, {
    cwd: options.cwd ?? root,
    encoding: "utf8",
    timeout: 180_000,
    env: { ...process.env, NO_COLOR: "1", ...options.env },
  });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Runs deno asynchronously: the test's own http server must keep answering meanwhile. */
function runAsync(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(deno, args, { cwd: root, env: { ...process.env, NO_COLOR: "1", ...env } });
    let out = "";
    c.stdout.on("data", (d) => out += d);
    c.stderr.on("data", (d) => out += d);
    const timer = setTimeout(() => c.kill("SIGKILL"), 120_000);
    c.on("error", reject);
    c.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

/** Serves the repository's files over http on 127.0.0.1, as a registry serves a package's. */
function serveRepository(): Promise<{ server: Server; base: string }> {
  const server = createServer((req, res) => {
    const path = normalize(join(root, decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname)));
    if (!path.startsWith(root) || path.includes("node_modules")) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = readFileSync(path);
      const type = path.endsWith(".ts") ? "application/typescript" : "text/plain";
      res.writeHead(200, { "content-type": type }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => {
      const a = server.address();
      resolve({ server, base: `http://127.0.0.1:${typeof a === "object" && a !== null ? a.port : 0}/` });
    });
  });
}

describe("luna-ts on JSR", () => {
  test("deno publish --dry-run passes and publishes only the library", () => {
    // --no-check: the slow-type check still runs; the type check of the sources is `deno check`'s elsewhere.
    const r = run(["publish", "--dry-run", "--allow-dirty", "--no-check"]);
    assertEquals(r.code, 0, r.out);
    assertStringIncludes(r.out, "Success Dry run complete");
    assert(!/error\[/.test(r.out), r.out);
    const files = [...r.out.matchAll(/file:\/\/\S+/g)].map((m) => m[0].slice(`file://${root}`.length));
    assert(
      files.includes("src/mod.ts") && files.includes("LICENSE") && files.includes("c-shims/luna_shim.c"),
      r.out,
    );
    const stray = files.filter((f) => /^(tests|bench|examples|scripts|\.ci|src\/lab)\//.test(f));
    assertEquals(stray, []);
  });

  test("deno doc --lint is clean on every entry point", () => {
    const r = run(["doc", "--lint", ...entryPoints]);
    assertEquals(r.code, 0, r.out);
  });

  test("package.json, deno.json and the shim's cache directory agree on the version", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    const dj = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
    assertEquals(pkg.version, lunaVersion);
    assertEquals(dj.version, lunaVersion);
    assertEquals(Object.keys(dj.exports).sort(), Object.keys(pkg.exports).sort());
  });

  test("from an http URL: the missing shim names the setup command; a shim in the cache directory loads", async () => {
    const { server, base } = await serveRepository();
    const dir = tempDir("jsr");
    try {
      const probe = join(dir, "probe.ts");
      writeFileSync(
        probe,
        `import { openShim } from "${base}ffi/mod.ts";\n` +
          `try { const s = await openShim(); console.log("OPENED " + s.path + " ABI " + s.symbols.luna_shim_abi()); }\n` +
          `catch (e) { console.log("ERROR " + e.name + ": " + e.message); }\n`,
      );
      const cache = join(dir, "cache");
      const env = { LUNA_SHIM_CACHE: cache, DENO_DIR: join(dir, "deno-dir") };
      const args = ["run", "-A", "--no-config", "--no-lock"];
      const missing = await runAsync([...args, probe], env);
      assertEquals(missing.code, 0, missing.out);
      assertStringIncludes(missing.out, "ERROR ShimMissingError");
      assertStringIncludes(missing.out, `build it with \`deno run -A ${base}ffi/setup.ts\``);
      // What that command makes (tests/package_test.ts runs the build itself): the library in the cache.
      mkdirSync(cache);
      copyFileSync(join(root, "c-shims", "build", "libluna_shim.so"), join(cache, "libluna_shim.so"));
      const opened = await runAsync([...args, probe], env);
      assertStringIncludes(opened.out, `OPENED ${join(cache, "libluna_shim.so")} ABI ${SHIM_ABI}`);
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
