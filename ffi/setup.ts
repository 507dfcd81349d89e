#!/usr/bin/env bun
/**
 * Builds the compiled shim (`libluna_shim.so`) from the package's C sources:
 * the one setup step of luna-ts. Run it once after installing, as
 * `bunx luna setup`, `deno run -A npm:luna-ts/setup` or
 * `deno run -A jsr:@luna-ts/luna/setup` (in a checkout, `make shim` does
 * the same). It needs gcc, pkg-config and Debian's `libdpdk-dev`.
 *
 * The library goes beside the sources (`c-shims/build/`) where that
 * directory can be written, else into a per-version cache directory
 * (`$LUNA_SHIM_CACHE`, else `$XDG_CACHE_HOME/luna-ts/<version>`, else
 * `~/.cache/luna-ts/<version>`); the shim loader looks in both. A module
 * loaded from an http(s) URL fetches the sources from beside itself.
 *
 * @example
 * ```ts
 * import { buildShim } from "luna-ts/setup";
 * const path = await buildShim();
 * console.log(`the shim is at ${path}`);
 * ```
 *
 * @module
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  accessSync,
  constants,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { LunaError } from "../src/errors.ts";
import { packageFileUrl, packageRoot, shimCacheDir, shimSources } from "./_locate.ts";

/** The shim could not be built: a tool or package is missing, or the compiler failed. */
export class SetupError extends LunaError {
  /** Builds the error; `message` says what is missing or failed and what to do. */
  constructor(message: string, options?: { cause?: unknown }) {
    super("SETUP", message, options);
  }
}

/** Options of {@link buildShim}. */
export interface BuildShimOptions {
  /** Directory of the library; default: `c-shims/build/` beside the sources if writable, else the cache directory. */
  outDir?: string;
  /** The C compiler; default `$CC`, else `gcc`. */
  cc?: string;
  /** Progress lines; default: none. */
  log?: (line: string) => void;
}

/**
 * Builds `libluna_shim.so` from the package's C sources (stamped with their
 * SHA-256, which the loader checks) and returns its path.
 *
 * @throws {SetupError} gcc, pkg-config or libdpdk-dev is missing, or the build failed
 */
export async function buildShim(options: BuildShimOptions = {}): Promise<string> {
  const log = options.log ?? (() => {});
  const cc = options.cc ?? (process.env.CC || "gcc");
  const missing = [cc, "pkg-config"].filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
  if (missing.length > 0) {
    throw new SetupError(
      `cannot build the luna shim: ${
        missing.join(", ")
      } not found (apt-get install -y gcc pkg-config libdpdk-dev)`,
    );
  }
  if (spawnSync("pkg-config", ["--exists", "libdpdk"]).status !== 0) {
    throw new SetupError(
      "cannot build the luna shim: pkg-config has no libdpdk (apt-get install -y libdpdk-dev)",
    );
  }
  const texts = await Promise.all(shimSources.map((f) => source(`c-shims/${f}`)));
  const hash = createHash("sha256");
  for (const t of texts) hash.update(t);
  const digest = hash.digest("hex");
  const outDir = options.outDir ?? defaultOutDir();
  mkdirSync(outDir, { recursive: true });
  const work = mkdtempSync(join(outDir, ".build-"));
  try {
    shimSources.forEach((f, i) => writeFileSync(join(work, f), texts[i]));
    const flags = (args: string[]) =>
      execFileSync("pkg-config", args, { encoding: "utf8" }).trim().split(/\s+/);
    const out = join(work, "libluna_shim.so");
    const args = [
      "-O2",
      "-g",
      "-Wall",
      "-Wextra",
      "-Werror",
      "-fPIC",
      "-shared",
      `-DLUNA_SOURCE_HASH="${digest}"`,
      ...flags(["--cflags", "libdpdk"]),
      ...shimSources.filter((f) => f.endsWith(".c")).map((f) => join(work, f)),
      "-o",
      out,
      ...flags(["--libs", "libdpdk"]),
      "-lrte_net_ring",
    ].filter((a) => a !== "");
    log(`building the luna shim in ${outDir}`);
    const r = spawnSync(cc, args, { encoding: "utf8" });
    if (r.status !== 0) {
      throw new SetupError(
        `cannot build the luna shim: ${cc} failed:\n${(r.stderr || r.stdout || "").trim()}`,
      );
    }
    const path = join(outDir, "libluna_shim.so");
    renameSync(out, path);
    return path;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Beside the sources where that directory can be written, else the per-version cache directory. */
function defaultOutDir(): string {
  const root = packageRoot();
  if (root !== undefined) {
    const dir = join(root, "c-shims");
    try {
      accessSync(dir, constants.W_OK);
      return join(dir, "build");
    } catch {
      // read-only package directory: the cache
    }
  }
  return shimCacheDir();
}

async function source(rel: string): Promise<Uint8Array> {
  const url = packageFileUrl(rel);
  if (url.protocol === "file:") return readFileSync(url);
  const res = await fetch(url);
  if (!res.ok) throw new SetupError(`cannot fetch the shim's source ${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

if ((import.meta as { main?: boolean }).main) {
  try {
    const path = await buildShim({ log: (line) => console.log(`luna-ts: ${line}`) });
    console.log(`luna-ts: the shim is ready: ${path}`);
  } catch (e) {
    console.error(`luna-ts: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  }
}
