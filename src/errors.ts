/**
 * Typed errors of luna-ts. Every failure the stack reports to its user is one
 * of these, with a message that says what went wrong and what to do.
 *
 * @module
 */

/** Base class: `code` is stable and meant for programs, `message` for people. */
export class LunaError extends Error {
  /** Stable, for programs (`SHIM_MISSING`, `CONFIG`, ...). */
  readonly code: string;
  /** Builds the error; `code` is stable, `message` for people. */
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The compiled shim library is not where it was looked for. */
export class ShimMissingError extends LunaError {
  /** The first place it was looked for. */
  readonly path: string;
  /** The command that builds it (`make shim`, `bunx luna setup`, `deno run -A npm:luna-ts/setup`, ...). */
  readonly setup: string;
  /** Builds the error: `searched` lists every place looked at. */
  constructor(path: string, setup = "make shim", searched: readonly string[] = [path]) {
    super(
      "SHIM_MISSING",
      `the luna shim library is missing (looked for ${searched.join(" and ")}): build it with \`${setup}\` ` +
        `(or point LUNA_SHIM_PATH at a built copy)`,
    );
    this.path = path;
    this.setup = setup;
  }
}

/** The shim library exists but cannot be loaded (for example, DPDK is not installed). */
export class ShimLoadError extends LunaError {
  /** The library's path. */
  readonly path: string;
  /** Builds the error from what the runtime's loader threw. */
  constructor(path: string, cause: unknown) {
    super(
      "SHIM_LOAD",
      (cause as { name?: string })?.name === "NotCapable" || /--allow-ffi/.test(errorText(cause))
        ? `Deno was not given --allow-ffi: run it with --allow-ffi (or -A) to load the luna shim library ${path}`
        : `cannot load the luna shim library ${path}: ${errorText(cause)} ` +
          `(are Debian's dpdk packages installed? \`make setup\` installs them)`,
      { cause },
    );
    this.path = path;
  }
}

/** The shim library was built from other sources than the ones beside it. */
export class ShimStaleError extends LunaError {
  /** The library's path. */
  readonly path: string;
  /** Builds the error; `detail` says how it differs, `setup` rebuilds it. */
  constructor(path: string, detail: string, setup = "make shim") {
    super("SHIM_STALE", `the luna shim library ${path} is stale: ${detail}; rebuild it with \`${setup}\``);
    this.path = path;
  }
}

/** DPDK's environment abstraction layer refused to start, or was used wrongly. */
export class EalError extends LunaError {
  /** The errno the EAL or shim returned (negative). */
  readonly errno: number;
  /** The EAL arguments, argv[0] first. */
  readonly args: readonly string[];
  /** Builds the error. */
  constructor(message: string, errno: number, args: readonly string[] = []) {
    super("EAL", message);
    this.errno = errno;
    this.args = args;
  }
}

/** A port operation failed, or the port does not exist. */
export class PortError extends LunaError {
  /** The port's id or name. */
  readonly port: number | string;
  /** The errno (negative). */
  readonly errno: number;
  /** Builds the error. */
  constructor(port: number | string, message: string, errno: number, code = "PORT") {
    super(code, message);
    this.port = port;
    this.errno = errno;
  }
}

/** No port has the asked id or name. */
export class NoSuchPortError extends PortError {
  /** Builds the error. */
  constructor(port: number | string, message: string) {
    super(port, message, 19 /* ENODEV */, "NO_SUCH_PORT");
  }
}

/** A packet pool has no buffer left to give. */
export class PoolExhaustedError extends LunaError {
  /** The pool's name. */
  readonly pool: string;
  /** The pool's buffers. */
  readonly capacity: number;
  /** Buffers asked. */
  readonly asked: number;
  /** Builds the error. */
  constructor(pool: string, capacity: number, asked: number) {
    super(
      "POOL_EXHAUSTED",
      `packet pool '${pool}' is exhausted: ${asked} buffer(s) asked, all ${capacity} in use ` +
        `(release buffers, or create the pool with a larger count)`,
    );
    this.pool = pool;
    this.capacity = capacity;
    this.asked = asked;
  }
}

/** A buffer handle that is not a buffer of the zone, or is used after release. */
export class BufferError extends LunaError {
  /** Builds the error. */
  constructor(message: string) {
    super("BUFFER", message);
  }
}

/** A configuration or argument that fails validation; `field` names it. */
export class ConfigError extends LunaError {
  /** The setting at fault, dotted (`tcp.mss`). */
  readonly field: string;
  /** Builds the error; its message starts with `field`. */
  constructor(field: string, message: string) {
    super("CONFIG", `${field}: ${message}`);
    this.field = field;
  }
}

/** Names of the errno values the shim returns, for messages. */
const errnoNames: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  5: "EIO",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  16: "EBUSY",
  17: "EEXIST",
  19: "ENODEV",
  22: "EINVAL",
  28: "ENOSPC",
  95: "ENOTSUP",
  105: "ENOBUFS",
  114: "EALREADY",
};

/** `ENODEV` for 19 (or -19); the number itself when unknown. */
export function errnoName(errno: number): string {
  const e = Math.abs(errno);
  return errnoNames[e] ?? `errno ${e}`;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
