#!/usr/bin/env bun
/**
 * Builds the npm package of luna-ts into a directory (default `dist/npm`):
 * JavaScript and declarations (`.d.ts`) for every module of the library
 * (src/ without the namespace labs, ffi/), the shim's C sources, README and
 * LICENSE, and a package.json whose exports point at them. Sources do not
 * ship: TypeScript would check a `.ts` beside a `.d.ts` instead of the
 * declaration, and Deno does not strip types under node_modules.
 *
 *   bun scripts/npm/build.ts [OUTDIR] [--pack]
 *
 * `--pack` then runs `npm pack` there and prints the tarball's path.
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { shimSources } from "../../ffi/_locate.ts";
import { declarations, rewriteImports } from "./dts.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));

/** The package's public entry points: subpath, module (without extension). */
export const entryPoints: Record<string, string> = {
  ".": "src/mod",
  "./net": "src/api/net",
  "./workers": "src/workers/mod",
  "./ffi": "ffi/mod",
  "./setup": "ffi/setup",
  "./compile": "src/compile",
};

/** Modules that stay out of the package: labs for tests and the demo, and the repository's own compiled entry. */
const excluded = [/^src\/lab\//, /^ffi\/embed_bun\.ts$/, /^src\/cli\/compiled\.ts$/, /_test\.ts$/];

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    const rel = `${dir}/${name}`;
    if (statSync(join(root, rel)).isDirectory()) out.push(...sources(rel));
    else if (rel.endsWith(".ts") && !excluded.some((r) => r.test(rel))) out.push(rel);
  }
  return out;
}

/** Writes the package into `outDir` (emptied first); returns the files written, relative to it. */
export function buildPackage(outDir: string): string[] {
  rmSync(outDir, { recursive: true, force: true });
  const written: string[] = [];
  const write = (rel: string, text: string) => {
    mkdirSync(dirname(join(outDir, rel)), { recursive: true });
    writeFileSync(join(outDir, rel), text);
    written.push(rel);
  };
  // deno-lint-ignore no-explicit-any
  const Bun = (globalThis as any).Bun;
  if (Bun === undefined) {
    throw new Error("scripts/npm/build.ts runs on Bun (its transpiler makes the JavaScript)");
  }
  const transpiler = new Bun.Transpiler({ loader: "ts", target: "bun", trimUnusedImports: true });
  for (const rel of [...sources("src"), ...sources("ffi")]) {
    const source = readFileSync(join(root, rel), "utf8");
    const base = rel.slice(0, -3);
    const shebang = source.startsWith("#!") ? source.slice(0, source.indexOf("\n") + 1) : "";
    const js = rewriteImports(transpiler.transformSync(shebang ? source.slice(shebang.length) : source));
    write(`${base}.js`, shebang + js);
    write(`${base}.d.ts`, declarations(source, rel));
  }
  for (const f of [...shimSources.map((s) => `c-shims/${s}`), "README.md", "LICENSE"]) {
    mkdirSync(dirname(join(outDir, f)), { recursive: true });
    copyFileSync(join(root, f), join(outDir, f));
    written.push(f);
  }
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const exports: Record<string, unknown> = {};
  for (const [sub, mod] of Object.entries(entryPoints)) {
    exports[sub] = { types: `./${mod}.d.ts`, default: `./${mod}.js` };
  }
  const out = {
    name: pkg.name,
    version: pkg.version,
    description: pkg.description,
    type: "module",
    license: pkg.license,
    exports,
    types: `./${entryPoints["."]}.d.ts`,
    bin: { luna: "src/cli/main.js" },
    files: ["src", "ffi", ...shimSources.map((s) => `c-shims/${s}`), "README.md", "LICENSE"],
    engines: pkg.engines,
    dependencies: pkg.dependencies,
  };
  write("package.json", JSON.stringify(out, null, 2) + "\n");
  return written;
}

/** `npm pack` of a built package directory into `destDir`; returns the tarball's path. */
export function packPackage(outDir: string, destDir: string = outDir): string {
  const name = execFileSync("npm", ["pack", "--silent", "--pack-destination", destDir], {
    cwd: outDir,
    encoding: "utf8",
    env: { ...process.env, npm_config_offline: "true", npm_config_update_notifier: "false" },
  }).trim().split("\n").pop()!;
  return join(destDir, name);
}

if ((import.meta as { main?: boolean }).main) {
  const args = process.argv.slice(2);
  const outDir = args.find((a) => !a.startsWith("--")) ?? join(root, "dist", "npm");
  const files = buildPackage(outDir);
  console.log(`luna-ts package: ${files.length} files in ${relative(process.cwd(), outDir) || "."}`);
  if (args.includes("--pack")) console.log(packPackage(outDir));
}
