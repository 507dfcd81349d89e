/**
 * Running a tool (`ip`, `iptables`, `ethtool`) to its end, with its output
 * in the error when it fails.
 *
 * @module
 */
import { execFileSync, spawnSync } from "node:child_process";

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

/**
 * What stops this process from running `tools`: not root (`rootWhy` says
 * why root is needed), Deno without `--allow-run`/`--allow-env`, or a tool
 * missing (with the Debian package to install, from `packages`, and
 * `installHint` after it). Empty when nothing does.
 */
export function toolProblems(
  tools: readonly string[],
  rootWhy: string,
  packages: Readonly<Record<string, string>>,
  installHint = "",
): string[] {
  const problems: string[] = [];
  if (typeof process.getuid === "function" && process.getuid() !== 0) problems.push(rootWhy);
  const denied = deniedDenoPermissions(["run", "env"]);
  if (denied.length > 0) {
    problems.push(
      `Deno was not given ${denied.join(" and ")} (it runs ${tools.join(", ")}): run it with ${denied.join(" ")}`,
    );
    return problems;
  }
  const missing = tools.filter((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0);
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((t) => packages[t] ?? t))];
    problems.push(`missing tools: ${missing.join(", ")} (apt-get install -y ${pkgs.join(" ")}${installHint})`);
  }
  return problems;
}
