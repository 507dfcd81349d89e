// Where the compiled shim is looked for and built, and the command that
// builds it, for a checkout, an npm package under node_modules, and a module
// loaded from an http(s) URL (JSR). Private to ffi/.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** luna-ts's version: it names the shim's cache directory (a test keeps it equal to package.json's). */
export const lunaVersion = "0.1.0";

/** The shim's source files (in c-shims/), in the order their SHA-256 covers them; the .c files are compiled. */
export const shimSources: readonly string[] = [
  "luna_shim.c",
  "luna_shim.h",
  "packet_port.c",
  "packet_port.h",
  "luna_cksum.h",
];

/** The package's root directory when this module is a file; undefined when it was loaded from a URL. */
export function packageRoot(): string | undefined {
  const url = new URL("..", import.meta.url);
  return url.protocol === "file:" ? fileURLToPath(url) : undefined;
}

/** URL of a file of the package (`c-shims/luna_shim.c`), wherever the package was loaded from. */
export function packageFileUrl(rel: string): URL {
  return new URL(`../${rel}`, import.meta.url);
}

/** Reads an environment variable; undefined where it is unset or Deno may not read it. */
export function env(name: string): string | undefined {
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  if (typeof g.Deno !== "undefined") {
    try {
      return g.Deno.env.get(name);
    } catch {
      return undefined; // no --allow-env: treat as unset
    }
  }
  return g.process?.env?.[name];
}

/**
 * The per-version cache directory of the shim: `$LUNA_SHIM_CACHE`, else
 * `$XDG_CACHE_HOME/luna-ts/<version>`, else `~/.cache/luna-ts/<version>`.
 */
export function shimCacheDir(): string {
  const own = env("LUNA_SHIM_CACHE");
  if (own !== undefined && own !== "") return own;
  const base = env("XDG_CACHE_HOME") || join(env("HOME") || "/root", ".cache");
  return join(base, "luna-ts", lunaVersion);
}

/** Where the shim may be, in the order they are tried: beside the sources, then the cache. */
export function shimCandidates(): string[] {
  const root = packageRoot();
  const out = root !== undefined ? [join(root, "c-shims", "build", "libluna_shim.so")] : [];
  out.push(join(shimCacheDir(), "libluna_shim.so"));
  return out;
}

/** The command that builds the shim for this installation, as the user would type it. */
export function setupCommand(): string {
  // deno-lint-ignore no-explicit-any
  const g = globalThis as any;
  const url = import.meta.url;
  const root = packageRoot();
  // A checkout of the repository: its Makefile builds the shim.
  if (root !== undefined && existsSync(join(root, "Makefile"))) return "make shim";
  if (/^https?:/.test(url)) {
    return /jsr\.io/.test(url)
      ? "deno run -A jsr:@luna-ts/luna/setup"
      : `deno run -A ${new URL("setup.ts", url)}`;
  }
  if (typeof g.Deno !== "undefined") return "deno run -A npm:luna-ts/setup";
  return "bunx luna setup";
}
