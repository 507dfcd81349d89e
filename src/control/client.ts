/**
 * The client side of the control socket (./protocol.ts), as the `luna`
 * command uses it: one request per connection, its frames handed to a
 * callback, the final JSON frame returned.
 *
 * @module
 */
import { readdirSync } from "node:fs";
import net from "node:net";
import { controlDir, type Frame, FrameReader, socketPath } from "./protocol.ts";

/** A failure to reach or use a control socket, said in one line. */
export class ControlError extends Error {
  /** The system's error code when the socket could not be reached (ENOENT, EACCES, ECONNREFUSED, ...). */
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.name = "ControlError";
    this.code = code;
  }
}

/** Options of {@link request}. */
export interface RequestOptions {
  dir?: string;
  /** Gives up after this long without the final frame, ms; default none. */
  timeoutMs?: number;
  /** Bytes to send after the request (connect): each chunk as it comes, then the end. */
  input?: AsyncIterable<Uint8Array>;
  /** Called with the client's socket once connected (to end it early, for one). */
  onSocket?: (s: net.Socket) => void;
}

function reachError(name: string, path: string, e: NodeJS.ErrnoException): ControlError {
  switch (e.code) {
    case "ENOENT":
      return new ControlError(
        `no stack named '${name}' (no ${path}; 'luna ls' lists the running stacks)`,
        e.code,
      );
    case "EACCES":
    case "EPERM":
      return new ControlError(
        `permission denied on ${path}: a control socket is for its owner only (run as the stack's user)`,
        e.code,
      );
    case "ECONNREFUSED":
      return new ControlError(
        `stack '${name}' is not running (${path} is left from a process that is gone)`,
        e.code,
      );
    default:
      return new ControlError(`cannot reach stack '${name}' at ${path}: ${e.message}`, e.code);
  }
}

/**
 * Sends `req` to stack `name` and calls `onFrame` with each frame before the
 * last; resolves with the last (`done: true`), rejects with a
 * {@link ControlError} when the stack cannot be reached or answers an error.
 */
export function request(
  name: string,
  req: Record<string, unknown>,
  onFrame: (f: Frame) => void,
  options: RequestOptions = {},
): Promise<Record<string, unknown>> {
  const path = socketPath(name, options.dir ?? controlDir());
  return new Promise((resolve, reject) => {
    const reader = new FrameReader();
    let settled = false;
    const settle = (e: Error | undefined, v?: Record<string, unknown>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (e !== undefined) {
        s.destroy();
        reject(e);
      } else resolve(v!);
    };
    const timer = options.timeoutMs !== undefined
      ? setTimeout(
        () => settle(new ControlError(`stack '${name}' did not answer within ${options.timeoutMs} ms`)),
        options.timeoutMs,
      )
      : undefined;
    const s = net.connect(path);
    s.on("error", (e: NodeJS.ErrnoException) => settle(reachError(name, path, e)));
    s.on("connect", () => {
      options.onSocket?.(s);
      s.write(JSON.stringify(req) + "\n");
      if (options.input !== undefined) {
        const input = options.input;
        (async () => {
          for await (const chunk of input) {
            if (settled || s.destroyed) return;
            // Past the socket's buffer, wait until this chunk has gone (its write's callback).
            await new Promise<void>((resolve) => {
              if (s.write(chunk, () => resolve())) resolve();
            });
          }
          if (!settled && !s.destroyed) s.end();
        })().catch((e) => settle(new ControlError(`reading the input: ${(e as Error).message}`)));
      }
    });
    s.on("data", (chunk: Uint8Array) => {
      let frames: Frame[];
      try {
        frames = reader.push(chunk);
      } catch (e) {
        return settle(e as Error);
      }
      for (const f of frames) {
        if (f.kind === "json" && f.value.done === true) {
          if (typeof f.value.error === "string") return settle(new ControlError(f.value.error));
          s.end();
          return settle(undefined, f.value);
        }
        onFrame(f);
      }
    });
    s.on(
      "close",
      () => settle(new ControlError(`stack '${name}' closed the control socket before answering`)),
    );
  });
}

/** A control socket found in the directory, and what its stack says of itself. */
export interface StackEntry {
  name: string;
  path: string;
  /** The stack's `info`, or undefined when it did not answer. */
  info?: Record<string, unknown>;
  /** Why it did not answer. */
  error?: string;
  /** `live` (it answered), `stale` (nothing accepts: its process is gone), `denied` (another user's), `error`. */
  status: "live" | "stale" | "denied" | "error";
}

/** The control sockets in `dir` (default: `$LUNA_CONTROL_DIR` or /run/luna), each asked for its info. */
export async function listStacks(dir: string = controlDir(), timeoutMs = 2000): Promise<StackEntry[]> {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new ControlError(`cannot read ${dir}: ${(e as Error).message}`);
  }
  const names = files.filter((f) => f.endsWith(".sock")).map((f) => f.slice(0, -5)).sort();
  return await Promise.all(names.map(async (name): Promise<StackEntry> => {
    try {
      const info = await request(name, { op: "info" }, () => {}, { dir, timeoutMs });
      return { name, path: socketPath(name, dir), info, status: "live" };
    } catch (e) {
      const code = e instanceof ControlError ? e.code : undefined;
      const status = code === "ECONNREFUSED"
        ? "stale"
        : code === "EACCES" || code === "EPERM"
        ? "denied"
        : "error";
      return { name, path: socketPath(name, dir), error: (e as Error).message, status };
    }
  }));
}

/** The stack a command means: `name` if given, else the only running one. */
export async function pickStack(name: string | undefined, dir: string = controlDir()): Promise<string> {
  if (name !== undefined) return name;
  const live = (await listStacks(dir)).filter((e) => e.info !== undefined);
  if (live.length === 1) return live[0].name;
  if (live.length === 0) {
    throw new ControlError(`no running stack has a control socket in ${dir} (start one: luna serve)`);
  }
  throw new ControlError(`NAME: ${live.length} stacks run (${live.map((e) => e.name).join(", ")}): name one`);
}
