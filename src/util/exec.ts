/**
 * Running a tool (`ip`, `iptables`, `ethtool`) to its end, with its output
 * in the error when it fails.
 *
 * @module
 */
import { execFileSync } from "node:child_process";

/**
 * Runs `cmd args`; returns its stdout. On failure throws what `makeError`
 * makes of the command line and the tool's own words (stderr, else stdout).
 */
export function runTool(
  cmd: string,
  args: string[],
  timeoutMs = 10_000,
  makeError: (what: string, detail: string, cause: unknown) => Error = (what, detail) =>
    new Error(`${what} failed: ${detail}`),
): string {
  try {
    return execFileSync(cmd, args, { encoding: "utf8", timeout: timeoutMs, stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    throw makeError(`${cmd} ${args.join(" ")}`, (err.stderr || err.stdout || err.message).trim(), e);
  }
}

/**
 * Under Deno, the permission flags (`--allow-run`, `--allow-env`, ...) among
 * `names` that this process was not given; empty elsewhere. Tools run
 * without `--allow-run` look absent rather than refused, so callers ask first
 * and name the flag.
 */
export function deniedDenoPermissions(
  names: readonly ("run" | "env" | "read" | "write" | "ffi" | "sys")[],
): string[] {
  // deno-lint-ignore no-explicit-any
  const deno = (globalThis as any).Deno;
  if (deno?.permissions?.querySync === undefined) return [];
  return names.filter((name) => deno.permissions.querySync({ name }).state !== "granted").map((n) =>
    `--allow-${n}`
  );
}
