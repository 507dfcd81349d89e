/**
 * Compiling one's own luna-ts program into a single executable with the shim
 * library inside (`bun build --compile`), as the `luna` command itself is
 * built. The executable needs Debian's DPDK libraries on the machine that
 * runs it, nothing else; `LUNA_SHIM_PATH` still overrides the embedded shim.
 *
 * `deno compile` cannot carry the shim: Deno opens a native library only
 * from the real file system, not from the executable's embedded files. A
 * Deno executable finds the shim as any Deno program does: `LUNA_SHIM_PATH`,
 * or the cache directory the setup command (`deno run -A npm:luna-ts/setup`)
 * builds into, on the machine that runs it.
 *
 * @example
 * ```ts
 * import { compileApp } from "luna-ts/compile";
 * await compileApp({ entry: "./server.ts", outfile: "./server" });
 * // ./server runs anywhere Debian's dpdk package is installed
 * ```
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { env, setupCommand, shimCandidates } from "../ffi/_locate.ts";
import { LunaError, ShimMissingError } from "./errors.ts";

/** Options of {@link compileApp}. */
export interface CompileAppOptions {
  /** The program's entry module. */
  entry: string;
  /** The executable to write. */
  outfile: string;
  /** The shim library to embed; default: `$LUNA_SHIM_PATH`, else the one the loader would open. */
  shimPath?: string;
  /** The Bun executable that compiles; default: this one under Bun, else `bun` on the PATH. */
  bun?: string;
  /** More arguments for `bun build` (`--minify`, `--target=bun-linux-x64`, ...). */
  extraArgs?: string[];
}

/** The compiler failed; `output` holds what it said. */
export class CompileError extends LunaError {
  /** `bun build`'s own output. */
  readonly output: string;
  /** Builds the error from the compiler's output. */
  constructor(message: string, output: string) {
    super("COMPILE", `${message}${output ? `:\n${output}` : ""}`);
    this.output = output;
  }
}

/**
 * Compiles `options.entry` with `bun build --compile` into `options.outfile`,
 * with the shim library embedded: a module run first hands the embedded
 * library and the Bun binder to luna-ts, then the entry runs. Returns the
 * executable's path.
 *
 * @throws {ShimMissingError} no built shim to embed (the error names the setup command)
 * @throws {CompileError} bun build failed
 */
export function compileApp(options: CompileAppOptions): string {
  const shim = options.shimPath ?? env("LUNA_SHIM_PATH") ?? shimCandidates().find((p) => existsSync(p));
  if (shim === undefined || !existsSync(shim)) {
    throw new ShimMissingError(
      shim ?? shimCandidates()[0]!,
      setupCommand(),
      shim ? [shim] : shimCandidates(),
    );
  }
  const entry = resolve(options.entry);
  if (!existsSync(entry)) throw new CompileError(`the entry ${entry} does not exist`, "");
  // The package's own modules, as this one is (.ts in a checkout, .js in the npm package).
  const ext = import.meta.url.endsWith(".ts") ? ".ts" : ".js";
  const ffi = (name: string) => fileURLToPath(new URL(`../ffi/${name}${ext}`, import.meta.url));
  const work = mkdtempSync(join(tmpdir(), "luna-compile-"));
  try {
    writeFileSync(
      join(work, "embed.ts"),
      `import shimPath from ${JSON.stringify(resolve(shim))} with { type: "file" };\n` +
        `import { binder } from ${JSON.stringify(ffi("_bun"))};\n` +
        `import { useEmbeddedShim } from ${JSON.stringify(ffi("mod"))};\n` +
        `useEmbeddedShim(binder, shimPath);\n`,
    );
    // Imports run in order: the shim is in place before the entry's first line.
    writeFileSync(join(work, "main.ts"), `import "./embed.ts";\nimport ${JSON.stringify(entry)};\n`);
    // deno-lint-ignore no-explicit-any
    const g = globalThis as any;
    const bun = options.bun ?? (typeof g.Bun !== "undefined" ? process.execPath : "bun");
    const outfile = resolve(options.outfile);
    const r = spawnSync(
      bun,
      ["build", "--compile", join(work, "main.ts"), "--outfile", outfile, ...(options.extraArgs ?? [])],
      { encoding: "utf8", cwd: work },
    );
    if (r.error !== undefined) throw new CompileError(`cannot run ${bun}: ${r.error.message}`, "");
    if (r.status !== 0) {
      throw new CompileError(`bun build --compile of ${entry} failed`, `${r.stdout}${r.stderr}`.trim());
    }
    return outfile;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
