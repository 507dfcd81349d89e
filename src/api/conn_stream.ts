/**
 * A connection as Web Streams, in the shape of `Deno.Conn`: `readable` and
 * `writable`, `for await` over the received bytes, `closeWrite()` and
 * `close()`. The zero-copy API of {@link Connection} stays beside it; a
 * connection turned into a stream gives its handlers to the stream.
 *
 * Both directions keep TCP's backpressure: the readable stream takes bytes
 * out of the connection only when its reader asks (unread bytes stay in the
 * receive window, which closes), and a write resolves once the connection
 * took every byte of it (a peer that does not read holds the writer).
 *
 * @example
 * ```ts
 * import { createStack } from "luna-ts";
 * import { listenStreams } from "luna-ts";
 * const stack = await createStack({ device: "af_packet:veth0", address: "198.18.0.2/24" });
 * void stack.run();
 * for await (const conn of listenStreams(stack, 7)) {
 *   void conn.readable.pipeTo(conn.writable); // echo
 * }
 * ```
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { Connection } from "./connection.ts";
import type { Stack } from "./stack.ts";

/** An address as `Deno.NetAddr` gives it. */
export interface NetAddr {
  /** Always TCP. */
  transport: "tcp";
  /** The IPv4 address, dotted. */
  hostname: string;
  /** The TCP port. */
  port: number;
}

/** Largest piece the readable stream hands out. */
const readPieceMax = 65536;

/** A luna-ts connection as Web Streams; see the module documentation. */
export class ConnStream implements AsyncIterable<Uint8Array> {
  /** The connection underneath. */
  readonly connection: Connection;
  /** The bytes the peer sends; ends at its FIN, errors when the connection is reset. */
  readonly readable: ReadableStream<Uint8Array>;
  /** What is written goes to the peer; closing it sends our FIN after the bytes written. */
  readonly writable: WritableStream<Uint8Array>;
  #waiters: (() => void)[] = [];
  #ended = false;
  #closed = false;
  #error: string | undefined;
  #opened: Promise<void>;
  #open!: () => void;
  #fail!: (e: Error) => void;

  /** @internal Use {@link Connection.stream}, {@link listenStreams} or {@link connectStream}. */
  constructor(c: Connection) {
    this.connection = c;
    this.#opened = new Promise((resolve, reject) => {
      this.#open = resolve;
      this.#fail = reject;
    });
    this.#opened.catch(() => {});
    if (c.state === "ESTABLISHED" || c.state === "CLOSE-WAIT") this.#open();
    const wake = () => this.#wake();
    c.handlers = {
      onOpen: () => {
        this.#open();
        wake();
      },
      onData: wake,
      onWritable: wake,
      onEnd: () => {
        this.#ended = true;
        wake();
      },
      onClose: (_c, error) => {
        this.#closed = true;
        this.#error = error;
        this.#fail(new Error(`connect to ${c.remoteAddress}:${c.remotePort}: ${error ?? "closed"}`));
        wake();
      },
    };
    this.readable = new ReadableStream<Uint8Array>({
      pull: async (ctl) => {
        for (;;) {
          const n = c.readable;
          if (n > 0) {
            const buf = new Uint8Array(Math.min(n, readPieceMax));
            const got = c.read(buf);
            return ctl.enqueue(got === buf.length ? buf : buf.subarray(0, got));
          }
          if (this.#error !== undefined) return ctl.error(new Error(`connection ${this.#error}`));
          if (this.#ended || this.#closed) return ctl.close();
          await this.#wait();
        }
      },
      cancel: () => {
        // As close(2) with unread data: the peer learns with a reset.
        if (!this.#closed) c.abort();
      },
    }, { highWaterMark: 0 });
    this.writable = new WritableStream<Uint8Array>({
      write: async (chunk) => {
        await this.#opened;
        let off = 0;
        while (off < chunk.length) {
          if (this.#closed || !c.writable) {
            throw new Error(
              `write to ${c.remoteAddress}:${c.remotePort}: connection ${this.#error ?? "closed"}`,
            );
          }
          off += c.write(chunk, off, chunk.length - off);
          if (off < chunk.length) await this.#wait();
        }
      },
      close: () => {
        if (!this.#closed) c.close();
      },
      abort: () => {
        if (!this.#closed) c.abort();
      },
    });
  }

  /** The peer's address. */
  get remoteAddr(): NetAddr {
    return { transport: "tcp", hostname: this.connection.remoteAddress, port: this.connection.remotePort };
  }
  /** Our address. */
  get localAddr(): NetAddr {
    return { transport: "tcp", hostname: this.connection.localAddress, port: this.connection.localPort };
  }

  /** Resolves once the connection is established (rejects when it fails first). */
  get opened(): Promise<void> {
    return this.#opened;
  }

  /** Sends our FIN after what was written (the peer may go on sending). */
  async closeWrite(): Promise<void> {
    await this.writable.close();
  }

  /** Closes the connection: our FIN after what was written. */
  close(): void {
    if (!this.#closed) this.connection.close();
  }

  /** The received bytes, piece by piece, until the peer's FIN. */
  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    const reader = this.readable.getReader();
    try {
      for (;;) {
        const r = await reader.read();
        if (r.done) return;
        yield r.value;
      }
    } finally {
      reader.releaseLock();
    }
  }

  #wake(): void {
    if (this.#waiters.length === 0) return;
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
    this.connection._yieldSoon();
  }

  #wait(): Promise<void> {
    return new Promise((r) => this.#waiters.push(r));
  }
}

/** Accepted connections on `port` as {@link ConnStream}s, as `Deno.listen` gives them; `return()` stops listening. */
export function listenStreams(stack: Stack, port: number): AsyncIterableIterator<ConnStream> {
  const ready: ConnStream[] = [];
  let waiting: ((r: IteratorResult<ConnStream>) => void) | undefined;
  let done = false;
  stack.listen(port, (c) => {
    const s = c.stream();
    if (waiting !== undefined) {
      const w = waiting;
      waiting = undefined;
      w({ value: s, done: false });
    } else ready.push(s);
  });
  const it: AsyncIterableIterator<ConnStream> = {
    next() {
      if (ready.length > 0) return Promise.resolve({ value: ready.shift()!, done: false });
      if (done) return Promise.resolve({ value: undefined, done: true });
      return new Promise((r) => (waiting = r));
    },
    return() {
      if (!done) {
        done = true;
        stack.unlisten(port);
        waiting?.({ value: undefined, done: true });
        waiting = undefined;
      }
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return it;
    },
  };
  return it;
}

/** Opens a connection and resolves with it as a {@link ConnStream} once established, as `Deno.connect` does. */
export async function connectStream(
  stack: Stack,
  options: { hostname: string; port: number },
): Promise<ConnStream> {
  if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) {
    throw new ConfigError("port", `expected 1..65535, got ${options.port}`);
  }
  const s = stack.connect(options.hostname, options.port).stream();
  await s.opened;
  return s;
}
