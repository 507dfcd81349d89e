/**
 * Helpers of the interop tests: a namespace lab per test, `luna serve` in
 * its luna side (as a child process of the runtime running the tests), and
 * shell commands in its kernel side, where curl, nc and node:net are the
 * judges. Every wait is bounded.
 *
 * @module
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createLab, type Lab, requireLabTools } from "../src/lab/netns.ts";
import type { ServeReport } from "../src/cli/serve.ts";
import { Child, type ChildResult, explain, removeEalFiles, uniquePrefix } from "./child.ts";

/** The repository's root directory. */
export const repoRoot: string = fileURLToPath(new URL("..", import.meta.url));
/** The `luna` command's script. */
export const lunaScript: string = join(repoRoot, "src", "cli", "main.ts");

/** Tools the interop tests need; a missing one fails the test, naming its package. */
export const interopTools = ["ip", "ethtool", "curl", "nc", "node", "sha256sum", "tcpdump"];

/** A lab for one test, after checking root and the tools (failing loudly, never skipping). */
export function interopLab(): Lab {
  requireLabTools(interopTools);
  return createLab({ prefix: "luna-test" });
}

/** A `luna serve` running in a lab. */
export interface LunaServer {
  child: Child;
  prefix: string;
  port: number;
  /** The line it printed once ready. */
  ready: string;
}

/** Starts `luna serve APP` on the lab's luna side and waits (bounded) for its ready line. */
export async function startLuna(
  lab: Lab,
  app: string,
  mode: "batch" | "inline",
  options: { port?: number; extra?: string[]; program?: string } = {},
): Promise<LunaServer> {
  const prefix = uniquePrefix(`serve-${app}`);
  const port = options.port ?? (app === "http" ? 80 : app === "echo" ? 7 : 9);
  const args = [
    "serve",
    app,
    "--device",
    `af_packet:${lab.luna.iface}`,
    "--address",
    lab.luna.cidr,
    "--port",
    String(port),
    "--mode",
    mode,
    "--prefix",
    prefix,
    "--json",
    ...(options.extra ?? []),
  ];
  const child = new Child(lunaScript, args, {
    wrap: lab.wrap("luna"),
    timeoutMs: 150_000,
    program: options.program,
  });
  try {
    const ready = await child.waitFor(/^luna: serving /, 30_000);
    return { child, prefix, port, ready };
  } catch (e) {
    child.process.kill("SIGKILL");
    removeEalFiles(prefix);
    throw e;
  }
}

/** Resolves with `p`, or rejects after `ms`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** Stops a server with SIGINT; returns its run and the report of its JSON line. */
export async function stopLuna(s: LunaServer): Promise<{ run: ChildResult; report: ServeReport }> {
  // process.kill, not ChildProcess.kill: after the latter, Deno's node:child_process reports the
  // exit as "killed by the signal" even when the child handled it and exited 0.
  process.kill(s.child.process.pid!, "SIGINT");
  const run = await within(s.child.done(), 20_000, "luna serve after SIGINT");
  const line = run.stdout.split("\n").reverse().find((l) => l.startsWith("{"));
  if (run.code !== 0 || line === undefined) {
    throw new Error(`luna serve did not stop cleanly: ${explain(run)}`);
  }
  return { run, report: JSON.parse(line) as ServeReport };
}

/** Kills a server if it still runs and removes its EAL files. */
export function killLuna(s: LunaServer | undefined): void {
  if (s === undefined) return;
  if (s.child.process.exitCode === null && s.child.process.signalCode === null) {
    s.child.process.kill("SIGKILL");
  }
  removeEalFiles(s.prefix);
}

/** What a command printed. */
export interface ShResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `script` with bash in a side of the lab, with pipefail; resolves with
 * its output, and rejects if it fails (unless `allowFail`) or outlives `timeoutMs`.
 */
export function sh(
  lab: Lab,
  side: "luna" | "kernel",
  script: string,
  options: { timeoutMs?: number; allowFail?: boolean; binary?: boolean } = {},
): Promise<ShResult> {
  const [cmd, ...args] = lab.wrap(side);
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, [...args, "bash", "-c", `set -o pipefail; ${script}`], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    p.stdout!.setEncoding(options.binary ? "latin1" : "utf8");
    p.stderr!.setEncoding("utf8");
    p.stdout!.on("data", (d: string) => (stdout += d));
    p.stderr!.on("data", (d: string) => (stderr += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      p.kill("SIGKILL");
    }, timeoutMs);
    p.on("close", (code) => {
      clearTimeout(timer);
      if (timedOut) {
        reject(
          new Error(
            `'${script}' ran past ${timeoutMs} ms\nstdout: ${stdout.slice(-2000)}\nstderr: ${stderr}`,
          ),
        );
      } else if (code !== 0 && !options.allowFail) {
        reject(new Error(`'${script}' exited ${code}\nstdout: ${stdout.slice(-2000)}\nstderr: ${stderr}`));
      } else resolve({ code, stdout, stderr });
    });
  });
}

/** Lowercase hex SHA-256 of a file. */
export function fileSha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** One HTTP response as read off the wire. */
export interface WireResponse {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** Splits a byte stream (latin1 text) of HTTP/1.1 responses with Content-Length bodies. */
export function parseResponses(stream: string): WireResponse[] {
  const out: WireResponse[] = [];
  let at = 0;
  while (at < stream.length) {
    const end = stream.indexOf("\r\n\r\n", at);
    if (end < 0) {
      throw new Error(`truncated response head at ${at}: ${JSON.stringify(stream.slice(at, at + 200))}`);
    }
    const lines = stream.slice(at, end).split("\r\n");
    const m = /^HTTP\/1\.[01] (\d{3}) /.exec(lines[0]);
    if (m === null) throw new Error(`not a status line: ${JSON.stringify(lines[0])}`);
    const headers = new Map<string, string>();
    for (const l of lines.slice(1)) {
      const c = l.indexOf(":");
      headers.set(l.slice(0, c).toLowerCase(), l.slice(c + 1).trim());
    }
    const status = Number(m[1]);
    const len = status === 100 ? 0 : Number(headers.get("content-length") ?? "0");
    out.push({ status, headers, body: stream.slice(end + 4, end + 4 + len) });
    at = end + 4 + len;
  }
  return out;
}
