// Child processes for the benchmarks: start, read output, stop, clean up.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";

/** Processes started and not yet ended, killed by {@link cleanupAll}. */
const live = new Set<Proc>();

/** A running process whose output is collected. */
export class Proc {
  readonly child: ChildProcess;
  /** stdout and stderr, as they arrived. */
  out = "";
  /** stdout alone (result lines are never split by stderr here). */
  stdout = "";
  /** stderr alone. */
  stderr = "";
  readonly closed: Promise<number | null>;
  constructor(cmd: string, args: string[], options: { stdin?: boolean; env?: Record<string, string> } = {}) {
    this.child = spawn(cmd, args, {
      stdio: [options.stdin ? "pipe" : "ignore", "pipe", "pipe"],
      env: options.env ? { ...process.env, ...options.env } : undefined,
    });
    this.child.stdout!.setEncoding("utf8");
    this.child.stderr!.setEncoding("utf8");
    this.child.stdout!.on("data", (d: string) => {
      this.out += d;
      this.stdout += d;
    });
    this.child.stderr!.on("data", (d: string) => {
      this.out += d;
      this.stderr += d;
    });
    live.add(this);
    this.closed = new Promise((resolve) =>
      this.child.on("close", (code) => {
        live.delete(this);
        resolve(code);
      })
    );
  }
  send(line: string): void {
    this.child.stdin!.write(line + "\n");
  }
  /** Waits until `pattern` matches output (or `source` alone) written after `from`; returns the match. */
  async waitFor(
    pattern: RegExp,
    from = 0,
    timeoutMs = 20_000,
    source: "out" | "stdout" | "stderr" = "out",
  ): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const m = this[source].slice(from).match(pattern);
      if (m) return m;
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        const how = this.child.exitCode !== null
          ? `with code ${this.child.exitCode}`
          : `on ${this.child.signalCode}`;
        throw new Error(`exited ${how} before ${pattern}; output:\n${this.tail()}`);
      }
      await sleep(20);
    }
    throw new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${this.tail()}`);
  }
  /** The end of the output, without JSC's GC log. */
  tail(chars = 3000): string {
    return this.out.split("\n").filter((l) => !/^\[GC<|^GC END!|^Requesting GC /.test(l)).join("\n").slice(
      -chars,
    );
  }
  async stop(signal: NodeJS.Signals = "SIGINT", graceMs = 5000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill(signal);
    const t = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await this.closed;
    clearTimeout(t);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Removes what an EAL with this prefix left behind. */
export function removeEalFiles(prefix: string): void {
  for (const p of [`/var/run/dpdk/${prefix}`, `/run/dpdk/${prefix}`]) {
    if (existsSync(p)) rmSync(p, { recursive: true, force: true });
  }
}

export { median } from "./_stats.ts";

const cleanups = new Set<() => void>();
/**
 * Registers what must be undone even when the bench is interrupted (a
 * socket file, a namespace); returns the function that runs and forgets it.
 */
export function onCleanup(fn: () => void): () => void {
  cleanups.add(fn);
  return () => {
    if (cleanups.delete(fn)) fn();
  };
}

/** Kills every child still running, then runs every registered cleanup (on SIGINT/SIGTERM). */
export function cleanupAll(): void {
  for (const p of live) {
    try {
      p.child.kill("SIGKILL");
    } catch {
      // already gone
    }
  }
  for (const fn of [...cleanups]) {
    cleanups.delete(fn);
    try {
      fn();
    } catch {
      // keep cleaning
    }
  }
}

/** Waits until `p` prints a line matching `re` (at most `ms`). */
export function lineFrom(p: ChildProcess, re: RegExp, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`no line matching ${re} in ${ms} ms: ${out}`)), ms);
    p.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const line = out.split("\n").find((l) => re.test(l));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve(line);
      }
    });
  });
}

/** Stops `p` with `signal`, then SIGKILL after 10 s. */
export async function stopChild(p: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return;
  const exited = new Promise((r) => p.on("close", r));
  p.kill(signal);
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  if (p.exitCode === null && p.signalCode === null) p.kill("SIGKILL");
}
