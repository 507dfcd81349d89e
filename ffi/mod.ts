/**
 * The FFI edge of luna-ts: loads the C shim through the runtime's own FFI
 * (bun:ffi on Bun, Deno.dlopen on Deno) and offers one interface to the rest
 * of the code. Nothing outside ffi/ imports a runtime's FFI.
 *
 * @example
 * ```ts
 * import { openShim } from "luna-ts/ffi";
 * const shim = await openShim();
 * console.log(shim.symbols.luna_shim_abi());
 * ```
 *
 * @module
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ShimLoadError, ShimMissingError, ShimStaleError } from "../src/errors.ts";
import type { Binder } from "./_binder.ts";
import { env, packageRoot, setupCommand, shimCandidates, shimSources } from "./_locate.ts";
export { shimSources } from "./_locate.ts";
import {
  identitySymbols,
  type NativePointer,
  SHIM_ABI,
  type ShimSymbols,
  symbols,
} from "./symbols.ts";

export * from "./symbols.ts";
export type { Binder, Library } from "./_binder.ts";

/** The loaded shim: its functions, and the two memory helpers FFI needs. */
export interface Shim {
  /** Which runtime bound it. */
  readonly runtime: "bun" | "deno";
  /** Path of the library that was loaded. */
  readonly path: string;
  /** Every function of the shim (see ffi/symbols.ts). */
  readonly symbols: ShimSymbols;
  /** Wraps `length` bytes of native memory at `pointer` as one ArrayBuffer, without copying. */
  mapMemory(pointer: NativePointer, length: number): ArrayBuffer;
  /** Whether a pointer the shim returned is NULL. */
  isNull(pointer: NativePointer): boolean;
  /** The shim's description of its last failure, DPDK's log lines included. */
  lastError(): string;
}

/** Options of {@link openShim}. */
export interface OpenShimOptions {
  /**
   * Library path; default: $LUNA_SHIM_PATH, else the embedded library, else
   * c-shims/build/libluna_shim.so beside the sources, else the one in the
   * per-version cache directory (see luna-ts/setup).
   */
  path?: string;
  /** Directory holding luna_shim.c/.h to check the library against; default c-shims/. */
  sourceDir?: string;
  /** Log every native call to stderr; default: $LUNA_FFI_TRACE is set. */
  trace?: boolean;
}

const root = packageRoot();
/** Where `make shim` (or the setup command, where the package can be written) puts the library. */
export const defaultShimPath: string = shimCandidates()[0]!;
/** The shim's C sources; undefined when the package was loaded from a URL. */
const defaultSourceDir = root !== undefined ? join(root, "c-shims") : undefined;

const opened = new Map<string, Shim>();

/** Set by a bundled executable (the compiled `luna`): its binder, linked in, and its embedded library. */
let embedded: { binder: Binder; path: string } | undefined;

/**
 * For a bundled executable, where dynamic imports by name and files beside
 * the sources do not exist: the binder to use, and the path of the shim
 * library embedded in the executable. $LUNA_SHIM_PATH and `options.path`
 * still take precedence. See ffi/embed_bun.ts.
 */
export function useEmbeddedShim(binder: Binder, path: string): void {
  embedded = { binder, path };
}

/** The runtime's binder, imported only on the runtime that has it. */
async function runtimeBinder(): Promise<Binder> {
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  // Named through variables: each runtime resolves only its own binder (Deno
  // cannot resolve "bun:ffi").
  const bun = "./_bun.ts";
  const deno = "./_deno.ts";
  if (typeof g.Bun !== "undefined") return (await import(bun)).binder;
  if (typeof g.Deno !== "undefined") return (await import(deno)).binder;
  throw new Error("luna-ts runs on Bun or Deno: this runtime has neither bun:ffi nor Deno.dlopen");
}

/** SHA-256 of the shim's sources, as the build stamps it into the library; undefined without local sources. */
export function shimSourceHash(sourceDir: string | undefined = defaultSourceDir): string | undefined {
  if (sourceDir === undefined) return undefined;
  const files = shimSources.map((f) => join(sourceDir, f));
  if (!files.every((f) => existsSync(f))) return undefined;
  const hash = createHash("sha256");
  for (const f of files) hash.update(readFileSync(f));
  return hash.digest("hex");
}

/**
 * Loads the shim (once per path and process) and checks that it is the one
 * these sources expect.
 *
 * @throws {ShimMissingError} no library at the path
 * @throws {ShimLoadError} the library or its DPDK dependencies cannot be loaded
 * @throws {ShimStaleError} the library's ABI or source hash differs from ours
 */
export async function openShim(options: OpenShimOptions = {}): Promise<Shim> {
  const searched = shimCandidates();
  const path = options.path ?? env("LUNA_SHIM_PATH") ?? embedded?.path ?? searched.find((p) => existsSync(p)) ??
    searched[0]!;
  const sourceDir = options.sourceDir ?? defaultSourceDir;
  const key = `${path}\0${sourceDir}\0${options.trace === true}`;
  const cached = opened.get(key);
  if (cached !== undefined) return cached;
  if (!existsSync(path)) {
    const chosen = options.path !== undefined || env("LUNA_SHIM_PATH") !== undefined || embedded !== undefined;
    throw new ShimMissingError(path, setupCommand(), chosen ? [path] : searched);
  }
  const binder = embedded?.binder ?? await runtimeBinder();

  // Identify the library with two symbols first: a stale library may lack
  // the newer ones, and opening the full table would fail less clearly.
  let id;
  try {
    id = binder.open(path, identitySymbols);
  } catch (e) {
    if (/symbol|undefined/i.test(String(e))) {
      throw new ShimStaleError(path, "it does not export luna_shim_abi", setupCommand());
    }
    throw new ShimLoadError(path, e);
  }
  const abi = id.symbols.luna_shim_abi();
  const buildId = readString((b, n) => id.symbols.luna_shim_build_id(b, n), 128);
  id.close();
  if (abi !== SHIM_ABI) {
    throw new ShimStaleError(path, `its ABI is ${abi}, these sources expect ${SHIM_ABI}`, setupCommand());
  }
  const source = shimSourceHash(sourceDir);
  if (source !== undefined && source !== buildId) {
    throw new ShimStaleError(
      path,
      `it was built from sources with hash ${buildId.slice(0, 12)}, the sources now hash to ${
        source.slice(0, 12)
      }`,
      setupCommand(),
    );
  }

  let lib;
  try {
    lib = binder.open(path, symbols);
  } catch (e) {
    if (/symbol/i.test(String(e))) throw new ShimStaleError(path, errorText(e), setupCommand());
    throw new ShimLoadError(path, e);
  }
  const trace = options.trace ?? (env("LUNA_FFI_TRACE") !== undefined && env("LUNA_FFI_TRACE") !== "0");
  const bound = trace ? traced(lib.symbols) : lib.symbols;
  const shim: Shim = {
    runtime: binder.runtime,
    path,
    symbols: bound,
    mapMemory: (p, n) => binder.mapMemory(p, n),
    isNull: (p) => binder.isNull(p),
    lastError: () => readString((b, n) => lib.symbols.luna_last_error(b, n), 16384),
  };
  opened.set(key, shim);
  return shim;
}

/** Calls a shim function that fills a NUL-terminated string, and decodes it. */
export function readString(
  call: (buf: Uint8Array, cap: number) => number,
  cap: number,
): string {
  const buf = new Uint8Array(cap);
  const n = call(buf, cap);
  if (n < 0) return "";
  return new TextDecoder().decode(buf.subarray(0, Math.min(n, cap - 1)));
}

/** Encodes a string for a (buffer, length) argument pair. */
export function cString(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

function traced(syms: ShimSymbols): ShimSymbols {
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(syms) as [string, (...a: unknown[]) => unknown][]) {
    out[name] = (...args: unknown[]) => {
      const r = f(...args);
      const shown = args.map((a) =>
        ArrayBuffer.isView(a) ? `<${a.constructor.name}:${a.byteLength}>` : String(a)
      );
      console.error(`[luna ffi] ${name}(${shown.join(", ")}) = ${String(r)}`);
      return r;
    };
  }
  return out as ShimSymbols;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
