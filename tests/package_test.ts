// luna-ts as a package people import: the npm tarball (built JavaScript and
// declarations) installed offline into a scratch project, type-checked under
// strict settings by a Node-style and a Bun-style configuration, run under
// Bun and Deno (through node_modules and through `npm:luna-ts`); the shim
// built by the setup command from inside node_modules into the cache
// directory when the package is read-only, and named by ShimMissingError when
// missing; one's own app compiled with the shim embedded, copied alone to an
// empty directory and run in a namespace lab. One build and one install for
// the whole file.
import { assert, assertEquals, assertMatch, assertStringIncludes } from "@std/assert";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { shimSources } from "../ffi/_locate.ts";
import { createLab, requireLabTools } from "../src/lab/netns.ts";
import { Child, explain, removeEalFiles, tempDir, uniquePrefix } from "./child.ts";
import { describe, runtime, test } from "./harness.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const bun = join(root, "node_modules", ".bin", "bun");
const deno = join(root, "node_modules", ".bin", "deno");

interface Ran {
  code: number | null;
  out: string;
}

function run(cmd: string, args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Ran {
  const r = spawnSync(cmd, args, {
    cwd: options.cwd,
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, NO_COLOR: "1", npm_config_update_notifier: "false", ...options.env },
  });
  return { code: r.status, out: `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? String(r.error) : ""}` };
}

function must(r: Ran, what: string): string {
  assertEquals(r.code, 0, `${what}: exit ${r.code}\n${r.out.slice(-6000)}`);
  return r.out;
}

/** The scratch directory: the package built and packed, a project with it installed. Made once. */
interface Scratch {
  dir: string;
  tarball: string;
  app: string;
  denoApp: string;
}

let scratch: Scratch | undefined;

function setUp(): Scratch {
  if (scratch !== undefined) return scratch;
  const dir = tempDir("package");
  chmodSync(dir, 0o755); // a user who is not root reads the package too
  const tarball = must(
    run(bun, [join(root, "scripts", "npm", "build.ts"), join(dir, "pkg"), "--pack"]),
    "build",
  )
    .trim().split("\n").pop()!;
  // The runtime dependency comes from the repository's own node_modules (a file: link): no registry.
  const zod = join(root, "node_modules", "zod");
  const app = join(dir, "app");
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  must(
    run("npm", ["install", "--offline", "--no-audit", "--no-fund", zod, tarball], { cwd: app }),
    "npm install",
  );
  copyFileSync(join(root, "tests", "package", "echo_app.ts"), join(app, "index.ts"));
  copyFileSync(join(root, "tests", "package", "lab_app.ts"), join(app, "lab_app.ts"));
  const types = join(root, "node_modules", "@types");
  const strict = {
    strict: true,
    skipLibCheck: false,
    noUncheckedIndexedAccess: true,
    noEmit: true,
    typeRoots: [types],
  };
  // `tsc --init`-like for Node: NodeNext modules.
  writeFileSync(
    join(app, "tsconfig.node.json"),
    JSON.stringify({
      compilerOptions: {
        ...strict,
        target: "ES2022",
        lib: ["ES2022"],
        module: "NodeNext",
        moduleResolution: "NodeNext",
        types: ["node"],
      },
      files: ["index.ts", "lab_app.ts"],
    }),
  );
  // What `bun init` writes.
  writeFileSync(
    join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        ...strict,
        lib: ["ESNext"],
        target: "ESNext",
        module: "Preserve",
        moduleDetection: "force",
        allowJs: true,
        moduleResolution: "bundler",
        allowImportingTsExtensions: true,
        verbatimModuleSyntax: true,
        noFallthroughCasesInSwitch: true,
        noImplicitOverride: true,
        types: ["bun"],
      },
      files: ["index.ts", "lab_app.ts"],
    }),
  );
  // A Deno project beside it, on the same node_modules.
  const denoApp = join(dir, "deno-app");
  mkdirSync(denoApp);
  symlinkSync(join(app, "node_modules"), join(denoApp, "node_modules"));
  writeFileSync(join(denoApp, "package.json"), readFileSync(join(app, "package.json")));
  writeFileSync(
    join(denoApp, "deno.json"),
    JSON.stringify({
      nodeModulesDir: "manual",
      compilerOptions: { strict: true, noUncheckedIndexedAccess: true },
    }),
  );
  const echo = readFileSync(join(root, "tests", "package", "echo_app.ts"), "utf8");
  writeFileSync(join(denoApp, "index.ts"), echo);
  writeFileSync(join(denoApp, "npm_specifier.ts"), echo.replaceAll(`from "luna-ts`, `from "npm:luna-ts`));
  scratch = { dir, tarball, app, denoApp };
  return scratch;
}

function tearDown(): void {
  if (scratch !== undefined) rmSync(scratch.dir, { recursive: true, force: true });
  scratch = undefined;
}

describe("luna-ts as a package", () => {
  test("the tarball holds built JavaScript, declarations, the shim's C sources and LICENSE; no tests, bench or sources", () => {
    const s = setUp();
    const files = must(run("tar", ["tzf", s.tarball]), "tar").trim().split("\n").map((f) =>
      f.replace(/^package\//, "")
    );
    for (
      const f of [
        "src/mod.js",
        "src/mod.d.ts",
        "src/api/net.js",
        "src/workers/mod.d.ts",
        "ffi/setup.js",
        "src/compile.js",
      ]
    ) {
      assert(files.includes(f), `${f} is in the package`);
    }
    for (const f of [...shimSources.map((s) => `c-shims/${s}`), "LICENSE", "README.md", "package.json"]) {
      assert(files.includes(f), `${f} is in the package`);
    }
    const stray = files.filter((f) =>
      /^(tests|bench|examples|scripts|\.ci|src\/lab)\//.test(f) || (f.endsWith(".ts") && !f.endsWith(".d.ts"))
    );
    assertEquals(stray, []);
  });

  test("a Node-style strict project (NodeNext, noUncheckedIndexedAccess, skipLibCheck false) type-checks clean", () => {
    const s = setUp();
    const out = must(
      run(bun, ["check", "-p", "tsconfig.node.json", "--all", "--no-pretty"], { cwd: s.app }),
      "check",
    );
    assertMatch(out, /No type errors in \d+ files/);
  });

  test("a bun init project (strict, noUncheckedIndexedAccess, skipLibCheck false): no error in luna-ts", () => {
    const s = setUp();
    const r = run(bun, ["check", "--all", "--no-pretty"], { cwd: s.app });
    const ours = r.out.split("\n").filter((l) => /luna-ts|index\.ts|lab_app\.ts/.test(l));
    assertEquals(ours, [], r.out);
    // What remains is @types/bun 1.4.5 against this repository's @types/node 22 (their own mismatch).
    for (const line of r.out.split("\n").filter((l) => /error TS/.test(l))) {
      assertStringIncludes(line, "bun-types");
    }
  });

  test("Bun runs it: an echo over the in-memory link, and listen(0) picks a port", () => {
    const s = setUp();
    const out = must(run(bun, ["index.ts"], { cwd: s.app }), "bun index.ts");
    assertMatch(out, /ECHO hello through luna-ts PORT (4915[2-9]|491[6-9]\d|49[2-9]\d\d|5\d{4}|6\d{4})/);
  });

  test("Deno type-checks it strictly and runs it through node_modules and through npm:luna-ts", () => {
    const s = setUp();
    must(run(deno, ["check", "index.ts", "npm_specifier.ts"], { cwd: s.denoApp }), "deno check");
    assertStringIncludes(
      must(run(deno, ["run", "-A", "index.ts"], { cwd: s.denoApp }), "deno run"),
      "ECHO hello",
    );
    assertStringIncludes(
      must(run(deno, ["run", "-A", "npm_specifier.ts"], { cwd: s.denoApp }), "deno run npm:"),
      "ECHO hello",
    );
  });

  test("no shim yet: ShimMissingError names the setup command; `bunx luna setup` builds it into the cache of a read-only package; then it loads", () => {
    const s = setUp();
    const cache = join(s.dir, "cache");
    const probe = `import { openShim } from "luna-ts/ffi";\n` +
      `try { const shim = await openShim(); console.log("OPENED " + shim.path + " ABI " + shim.symbols.luna_shim_abi()); }\n` +
      `catch (e) { console.log("ERROR " + e.name + ": " + e.message); }\n`;
    writeFileSync(join(s.app, "probe.ts"), probe);
    writeFileSync(join(s.denoApp, "probe.ts"), probe);
    const missingBun = must(run(bun, ["probe.ts"], { cwd: s.app, env: { LUNA_SHIM_CACHE: cache } }), "probe");
    assertStringIncludes(missingBun, "ERROR ShimMissingError: the luna shim library is missing");
    assertStringIncludes(missingBun, "build it with `bunx luna setup`");
    const missingDeno = must(
      run(deno, ["run", "-A", "probe.ts"], { cwd: s.denoApp, env: { LUNA_SHIM_CACHE: cache } }),
      "probe",
    );
    assertStringIncludes(missingDeno, "build it with `deno run -A npm:luna-ts/setup`");
    // A user who is not root cannot write the package directory: the build goes to the cache.
    mkdirSync(cache);
    chmodSync(cache, 0o777);
    const setup = run("setpriv", [
      "--reuid",
      "65534",
      "--regid",
      "65534",
      "--clear-groups",
      "env",
      `LUNA_SHIM_CACHE=${cache}`,
      "HOME=/nonexistent",
      `PATH=${join(root, "node_modules", ".bin")}:/usr/local/bin:/usr/bin:/bin`,
      bun,
      "x",
      "luna",
      "setup",
    ], { cwd: s.app });
    assertStringIncludes(
      must(setup, "bunx luna setup"),
      `the shim is ready: ${join(cache, "libluna_shim.so")}`,
    );
    assert(
      !existsSync(join(s.app, "node_modules", "luna-ts", "c-shims", "build")),
      "nothing written into the package",
    );
    const opened = must(run(bun, ["probe.ts"], { cwd: s.app, env: { LUNA_SHIM_CACHE: cache } }), "probe");
    assertStringIncludes(opened, `OPENED ${join(cache, "libluna_shim.so")} ABI `);
  });

  test("compileApp embeds the shim: the executable, alone in an empty directory, serves echo in a namespace lab", async () => {
    const s = setUp();
    const cache = join(s.dir, "cache");
    const shim = existsSync(join(cache, "libluna_shim.so"))
      ? join(cache, "libluna_shim.so")
      : join(root, "c-shims", "build", "libluna_shim.so");
    writeFileSync(
      join(s.app, "compile.ts"),
      `import { compileApp } from "luna-ts/compile";\n` +
        `console.log("BUILT " + compileApp({ entry: "lab_app.ts", outfile: ${
          JSON.stringify(join(s.dir, "app-bin"))
        }, shimPath: ${JSON.stringify(shim)} }));\n`,
    );
    must(run(bun, ["compile.ts"], { cwd: s.app }), "compile");
    const alone = join(s.dir, "alone");
    mkdirSync(alone);
    copyFileSync(join(s.dir, "app-bin"), join(alone, "app"));
    chmodSync(join(alone, "app"), 0o755);
    requireLabTools(["ip", "ethtool", "nc"]);
    const lab = createLab({ prefix: "luna-test-pkg" });
    const prefix = uniquePrefix("pkg-app");
    let child: Child | undefined;
    try {
      child = new Child(join(alone, "app"), [`af_packet:${lab.luna.iface}`, lab.luna.cidr, prefix], {
        program: join(alone, "app"),
        wrap: lab.wrap("luna"),
        timeoutMs: 60_000,
        env: { LUNA_SHIM_CACHE: join(s.dir, "no-cache-here") },
      });
      await child.waitFor(/^READY 7$/m, 30_000);
      const echoed = lab.exec("kernel", "sh", ["-c", `printf 'compiled luna' | nc -N -w 5 ${lab.luna.ip} 7`]);
      assertEquals(echoed, "compiled luna");
      child.process.kill("SIGTERM");
      const r = await child.done();
      // It closed its stack and exited 0; Deno's child_process reports the signal it sent instead.
      assert(r.code === 0 || (runtime === "deno" && r.signal === "SIGTERM"), explain(r));
      assertStringIncludes(r.stdout, "CLOSED");
    } finally {
      if (child !== undefined && child.process.exitCode === null) child.process.kill("SIGKILL");
      lab.close();
      removeEalFiles(prefix);
      tearDown();
    }
  });
});
