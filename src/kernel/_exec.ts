/**
 * Running the kernel's own tools (`ip`, `iptables`) and reading sysctls, for
 * the control plane and the host changes of coexistence. Start and stop use
 * the synchronous forms (they run once, before and after the loop); the
 * control plane's polls use {@link runAsync}, which never blocks the loop.
 *
 * @module
 */
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { LunaError } from "../errors.ts";
import { runTool, toolProblems } from "../util/exec.ts";

/** The kernel refused a change, or a tool coexistence needs is missing. */
export class KernelError extends LunaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("KERNEL", message, options);
  }
}

/** Debian packages of the tools used here. */
const packages: Record<string, string> = { ip: "iproute2", iptables: "iptables" };

/** Throws a {@link KernelError} naming what is missing: root, or one of `tools`. */
export function requireTools(tools: string[]): void {
  const problems = toolProblems(
    tools,
    "it needs root (it changes the kernel's interfaces, firewall and sysctls)",
    packages,
  );
  if (problems.length > 0) throw new KernelError(`kernel coexistence cannot start: ${problems.join("; ")}`);
}

/** Runs `cmd args` to its end; returns stdout, throws {@link KernelError} with its stderr. */
export function run(cmd: string, args: string[], timeoutMs = 10_000): string {
  return runTool(cmd, args, timeoutMs, (what, detail, cause) => new KernelError(`${what}: ${detail}`, { cause }));
}

/** Like {@link run}, without blocking: for work beside the loop. */
export function runAsync(cmd: string, args: string[], timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: "utf8", timeout: timeoutMs }, (e, stdout, stderr) => {
      if (e) {
        reject(new KernelError(`${cmd} ${args.join(" ")}: ${(stderr || e.message).trim()}`, { cause: e }));
      } else resolve(stdout);
    });
  });
}

/** `ip -j ARGS`, parsed (an empty answer is `[]`). */
export function ipJson(args: string[]): unknown[] {
  const out = run("ip", ["-j", ...args]).trim();
  return out === "" ? [] : JSON.parse(out);
}

/** Reads a sysctl by its /proc/sys path; undefined if it does not exist. */
export function readSysctl(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

/** Writes a sysctl by its /proc/sys path. */
export function writeSysctl(path: string, value: string): void {
  try {
    writeFileSync(path, value);
  } catch (e) {
    throw new KernelError(`cannot write ${value} to ${path}: ${(e as Error).message}`, { cause: e });
  }
}
