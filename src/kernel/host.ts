/**
 * The changes coexistence makes to the host's kernel, kept as a journal of
 * how to undo each one: sysctls (reserved ports, and on a NIC that is a
 * kernel interface: no ARP answers, no IPv6), firewall rules, and the
 * addresses and routes moved from the NIC's interface to the exception
 * interface. A clean stop undoes them, newest first.
 *
 * The journal is also written to a record file under /run/luna-ts after
 * every change, named by network namespace and interface. If the process
 * dies without stopping, the record stays; the next start on the same
 * interface in the same namespace finds it, sees that its process is gone,
 * and undoes what it says before starting ({@link HostChanges.recover}).
 *
 * @module
 */
import { existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { KernelError, readSysctl, run, writeSysctl } from "./_exec.ts";

/** How to undo one change. */
export type Undo =
  /** Write `value` back to the sysctl at `path`. */
  | { kind: "sysctl"; path: string; value: string }
  /** Run `iptables ARGS` (the rule's -D form). */
  | { kind: "iptables"; args: string[] }
  /** `ip addr add ARGS dev DEV`: an address that was moved away from DEV. */
  | { kind: "addr"; dev: string; args: string[] }
  /** `ip route add ARGS dev DEV`: a route that was moved away from DEV. */
  | { kind: "route"; dev: string; args: string[] };

/** What a record file holds. */
export interface HostRecord {
  pid: number;
  netns: string;
  /** The exception interface. */
  tap: string;
  /** The NIC's kernel interface, if it is one. */
  nic?: string;
  startedAt: string;
  undo: Undo[];
}

/** Directory of the record files. */
export const recordDir = "/run/luna-ts";

/** The network namespace this process is in, as the kernel names it (`4026531840`). */
export function netnsId(): string {
  try {
    return /\[(\d+)\]/.exec(readlinkSync("/proc/self/ns/net"))?.[1] ?? "unknown";
  } catch {
    return "unknown";
  }
}

function recordPath(tap: string): string {
  return `${recordDir}/coexist-${netnsId()}-${tap}.json`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === "EPERM";
  }
}

/** Applies one undo step; throws {@link KernelError} if the kernel refuses. */
function apply(u: Undo): void {
  switch (u.kind) {
    case "sysctl":
      writeSysctl(u.path, u.value + "\n");
      return;
    case "iptables":
      run("iptables", u.args);
      return;
    case "addr":
      run("ip", ["addr", "add", ...u.args, "dev", u.dev]);
      return;
    case "route":
      run("ip", ["route", "add", ...u.args, "dev", u.dev]);
      return;
  }
}

/** The journal of one coexistence's changes; see the module documentation. */
export class HostChanges {
  readonly record: HostRecord;
  readonly path: string;
  #done = false;

  /** Starts an empty journal for exception interface `tap` (and NIC interface `nic`), recorded at once. */
  constructor(tap: string, nic?: string) {
    this.path = recordPath(tap);
    this.record = {
      pid: process.pid,
      netns: netnsId(),
      tap,
      nic,
      startedAt: new Date().toISOString(),
      undo: [],
    };
    this.#save();
  }

  /**
   * Undoes what a process that died while coexisting on `tap` in this
   * namespace left behind; returns what it undid (empty when nothing was
   * left). Throws {@link KernelError} if that process is still running.
   */
  static recover(tap: string): string[] {
    const path = recordPath(tap);
    if (!existsSync(path)) return [];
    let rec: HostRecord;
    try {
      rec = JSON.parse(readFileSync(path, "utf8"));
    } catch {
      rmSync(path, { force: true });
      return [`removed an unreadable record ${path}`];
    }
    if (rec.pid !== process.pid && alive(rec.pid)) {
      throw new KernelError(
        `luna-ts (pid ${rec.pid}) already coexists with the kernel on ${tap} in this namespace (${path})`,
      );
    }
    const done = [
      `process ${rec.pid} died while coexisting on ${tap}; undoing its ${rec.undo.length} changes`,
    ];
    for (const u of [...rec.undo].reverse()) {
      try {
        apply(u);
        done.push(describe(u));
      } catch (e) {
        done.push(`${describe(u)}: ${(e as Error).message}`);
      }
    }
    rmSync(path, { force: true });
    return done;
  }

  /** Records how to undo a change just made. */
  push(u: Undo): void {
    this.record.undo.push(u);
    this.#save();
  }

  /** Sets a sysctl, recording its old value; false (and nothing changed) if it does not exist. */
  sysctl(path: string, value: string): boolean {
    const old = readSysctl(path);
    if (old === undefined) return false;
    if (old === value) return true;
    // Recorded first: a crash between the two leaves at worst a no-op to undo.
    this.push({ kind: "sysctl", path, value: old });
    writeSysctl(path, value + "\n");
    return true;
  }

  /** Adds an iptables rule (`-I`/`-A` form in `add`), recording its removal (`del`). */
  iptables(add: string[], del: string[]): void {
    run("iptables", add);
    this.push({ kind: "iptables", args: del });
  }

  /**
   * Undoes every change, newest first, and removes the record; returns the
   * steps that failed (the kernel refused), empty when all went back.
   */
  undo(): string[] {
    if (this.#done) return [];
    this.#done = true;
    const failed: string[] = [];
    for (const u of [...this.record.undo].reverse()) {
      try {
        apply(u);
      } catch (e) {
        failed.push(`${describe(u)}: ${(e as Error).message}`);
      }
    }
    this.record.undo.length = 0;
    rmSync(this.path, { force: true });
    return failed;
  }

  #save(): void {
    try {
      mkdirSync(recordDir, { recursive: true });
      writeFileSync(this.path, JSON.stringify(this.record, null, 1));
    } catch (e) {
      throw new KernelError(`cannot write the coexistence record ${this.path}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }
}

function describe(u: Undo): string {
  switch (u.kind) {
    case "sysctl":
      return `${u.path} = ${u.value}`;
    case "iptables":
      return `iptables ${u.args.join(" ")}`;
    case "addr":
      return `ip addr add ${u.args.join(" ")} dev ${u.dev}`;
    case "route":
      return `ip route add ${u.args.join(" ")} dev ${u.dev}`;
  }
}
