/**
 * Child processes for tests. DPDK's EAL starts once per process, so every
 * test that needs it runs a program from tests/children/ in a child process
 * of the same runtime, on its own `--file-prefix`, and cleans up after it.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;

/** Absolute path of a program in tests/children/ (an absolute path is taken as it is). */
export function childScript(name: string): string {
  if (isAbsolute(name)) return name;
  return fileURLToPath(new URL(`./children/${name}`, import.meta.url));
}

/** The command line that runs `script` under the runtime running the tests. */
export function runtimeCommand(script: string, args: string[]): [string, string[]] {
  if (typeof g.Bun !== "undefined") return [process.execPath, [script, ...args]];
  return [g.Deno.execPath(), ["run", "-A", script, ...args]];
}

let seq = 0;
/** A `--file-prefix` no other process of this run uses. */
export function uniquePrefix(tag: string): string {
  return `luna-test-${tag}-${process.pid}-${++seq}-${Math.random().toString(36).slice(2, 8)}`;
}

/** Removes what the EAL of `prefix` left in its runtime directory. */
export function removeEalFiles(prefix: string): void {
  for (const dir of ["/var/run/dpdk", "/run/dpdk"]) {
    const p = join(dir, prefix);
    if (existsSync(p)) rmSync(p, { recursive: true, force: true });
  }
}

/** A fresh temporary directory. */
export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `luna-${tag}-`));
}

/** What a finished child did. */
export interface ChildResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** The object it printed on its `RESULT ` line, if any. */
  result: Record<string, unknown> | undefined;
}

/** Options of {@link Child}. */
export interface ChildOptions {
  /** Killed (SIGKILL) after this long; default 60 s. */
  timeoutMs?: number;
  env?: Record<string, string>;
  /** A command the runtime runs under: `["ip", "netns", "exec", NS]`. */
  wrap?: string[];
  /** An executable to run with the args, in place of the runtime and a script (a compiled `luna`). */
  program?: string;
}

/** A running child whose output is collected. */
export class Child {
  readonly process: ChildProcess;
  readonly name: string;
  #stdout = "";
  #stderr = "";
  readonly #done: Promise<ChildResult>;
  readonly #timer: ReturnType<typeof setTimeout>;

  constructor(script: string, args: string[], options: ChildOptions = {}) {
    let [cmd, argv] = options.program !== undefined
      ? [options.program, args]
      : runtimeCommand(childScript(script), args);
    // A wrapper such as `ip netns exec NS` execs the runtime: the pid stays the child's.
    if (options.wrap !== undefined && options.wrap.length > 0) {
      [cmd, argv] = [options.wrap[0], [...options.wrap.slice(1), cmd, ...argv]];
    }
    this.name = script;
    this.process = spawn(cmd, argv, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...options.env },
    });
    this.process.stdout!.setEncoding("utf8");
    this.process.stderr!.setEncoding("utf8");
    this.process.stdout!.on("data", (d: string) => (this.#stdout += d));
    this.process.stderr!.on("data", (d: string) => (this.#stderr += d));
    const timeoutMs = options.timeoutMs ?? 60_000;
    this.#timer = setTimeout(() => this.process.kill("SIGKILL"), timeoutMs);
    this.#done = new Promise((resolve) => {
      this.process.on("close", (code, signal) => {
        clearTimeout(this.#timer);
        resolve({
          code,
          signal: signal ?? null,
          stdout: this.#stdout,
          stderr: this.#stderr,
          result: parseResult(this.#stdout),
        });
      });
    });
  }

  /** Resolves when a line of stdout matches `pattern`; rejects if the child ends first or time runs out. */
  async waitFor(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; i < timeoutMs / 10 + 1; i++) {
      const line = this.#stdout.split("\n").find((l) => pattern.test(l));
      if (line !== undefined) return line;
      if (this.process.exitCode !== null || this.process.signalCode !== null) break;
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(
      `${this.name}: no line matching ${pattern} (exit ${this.process.exitCode})\nstdout:\n${this.#stdout}\nstderr:\n${this.#stderr}`,
    );
  }

  /** Output so far. */
  get stdout(): string {
    return this.#stdout;
  }
  get stderr(): string {
    return this.#stderr;
  }

  /** Waits for the child to end. */
  done(): Promise<ChildResult> {
    return this.#done;
  }
}

/** Runs a program of tests/children/ to its end. */
export function runChild(script: string, args: string[], options: ChildOptions = {}): Promise<ChildResult> {
  return new Child(script, args, options).done();
}

/** The RESULT a child printed, after asserting that it exited 0 and printed one. */
// deno-lint-ignore no-explicit-any
export function resultOf(r: ChildResult): Record<string, any> {
  if (r.code !== 0 || r.result === undefined) {
    throw new Error(`child ${r.code !== 0 ? "failed" : "printed no RESULT"}: ${explain(r)}`);
  }
  // deno-lint-ignore no-explicit-any
  return r.result as Record<string, any>;
}

/** Describes a child's run for a failed assertion's message. */
export function explain(r: ChildResult): string {
  return `exit ${r.code} signal ${r.signal}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`;
}

function parseResult(stdout: string): Record<string, unknown> | undefined {
  const line = stdout.split("\n").reverse().find((l) => l.startsWith("RESULT "));
  return line === undefined ? undefined : JSON.parse(line.slice("RESULT ".length));
}
