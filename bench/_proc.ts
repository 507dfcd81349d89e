// Child processes for the benchmarks: start, read output, stop, clean up.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";

/** A running process whose output is collected. */
export class Proc {
  readonly child: ChildProcess;
  out = "";
  readonly closed: Promise<number | null>;
  constructor(cmd: string, args: string[], options: { stdin?: boolean } = {}) {
    this.child = spawn(cmd, args, { stdio: [options.stdin ? "pipe" : "ignore", "pipe", "pipe"] });
    this.child.stdout!.setEncoding("utf8");
    this.child.stderr!.setEncoding("utf8");
    this.child.stdout!.on("data", (d: string) => (this.out += d));
    this.child.stderr!.on("data", (d: string) => (this.out += d));
    this.closed = new Promise((resolve) => this.child.on("close", (code) => resolve(code)));
  }
  send(line: string): void {
    this.child.stdin!.write(line + "\n");
  }
  /** Waits until `pattern` matches output written after `from`; returns the match. */
  async waitFor(pattern: RegExp, from = 0, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const m = this.out.slice(from).match(pattern);
      if (m) return m;
      if (this.child.exitCode !== null) break;
      await sleep(20);
    }
    throw new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${this.out.slice(-3000)}`);
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

/** Median of a list of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
