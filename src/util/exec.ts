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
