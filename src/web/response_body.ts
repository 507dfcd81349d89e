/**
 * Reading a `Response`'s body for the server (./serve.ts): with as few
 * microtask turns and as little stream machinery as the runtime allows.
 *
 * - Under Deno, a body made from text is kept aside by the `Response` until
 *   something asks for its stream; {@link lazyText} reads it there, as
 *   Deno.serve does, and no stream is made.
 * - Under Bun, `Bun.peek` reads a promise's state without a turn:
 *   {@link peek} tells a read that is done already, {@link settledSoon}
 *   waits for one without attaching handlers.
 * - Elsewhere, {@link settled} waits a few turns with handlers attached.
 *
 * {@link assemble} puts a head and the gathered body together in one reused
 * buffer, for the one write that queues them.
 *
 * @module
 */

/** Most bytes of a response body gathered to send it with a Content-Length. */
export const gatherBytesMax = 65536;
/** Microtask turns a response body's next piece may take and still count as there already. */
const settleTurns = 8;

/** What {@link settledSoon} answers for a promise still pending. */
export const pending: unique symbol = Symbol("pending");

/**
 * `p`'s value if it settles within {@link settleTurns} microtask turns, else
 * {@link pending} (p goes on). Under Bun the promise's state is read
 * directly (`Bun.peek.status`), without a handler attached.
 */
export async function settledSoon<T>(p: Promise<T>): Promise<T | typeof pending> {
  if (peek === undefined) return await settled(p, settleTurns);
  for (let i = 0; i < settleTurns && peek.status(p) === "pending"; i++) await null;
  const state = peek.status(p);
  if (state === "pending") return pending;
  if (state === "rejected") return await p;
  return peek(p) as T;
}

/** Deno's key of a `Response`'s text body while it has not been made a stream; null: none found. */
let lazyTextKey: symbol | null | undefined;

/**
 * Under Deno, the text a `Response` was made with, if its body is still that
 * text (not made a stream, not used): Deno keeps it aside until the body is
 * asked for, and Deno.serve reads it there; read that way the body needs no
 * stream. Undefined otherwise (and under other runtimes).
 */
export function lazyText(res: Response): string | undefined {
  if (peek !== undefined || lazyTextKey === null) return undefined;
  if (lazyTextKey === undefined) {
    lazyTextKey = Object.getOwnPropertySymbols(res).find((k) => k.description === "lazy static body") ?? null;
    if (lazyTextKey === null) return undefined;
  }
  const v = (res as unknown as Record<symbol, unknown>)[lazyTextKey];
  // Deno clears it once the body is made a stream or read (reading `bodyUsed` would make the stream).
  return typeof v === "string" ? v : undefined;
}

/** Bun's `Bun.peek`: a promise's value without a microtask turn when it is settled already. */
export const peek: BunPeek | undefined = (globalThis as { Bun?: { peek: BunPeek } }).Bun?.peek;

/** The shape of `Bun.peek`. */
export type BunPeek = ((p: Promise<unknown>) => unknown) & { status(p: Promise<unknown>): string };

const encoder = new TextEncoder();
/** Where an answer's head and body are put together before the one write that queues them (reused). */
let scratch = new Uint8Array(16384);

/** `text` (a response head) then `parts`, in {@link scratch}: valid until the next call. */
export function assemble(text: string, parts: Uint8Array[], total: number): Uint8Array {
  const most = text.length * 3 + total;
  if (most > scratch.length) scratch = new Uint8Array(Math.max(most, scratch.length * 2));
  let o = encoder.encodeInto(text, scratch).written;
  for (const p of parts) {
    scratch.set(p, o);
    o += p.length;
  }
  return scratch.subarray(0, o);
}

/** `p`'s value if it settles within `turns` microtask turns, else {@link pending} (p goes on). */
export async function settled<T>(p: Promise<T>, turns: number): Promise<T | typeof pending> {
  let out: { v: T } | { e: unknown } | undefined;
  p.then((v) => (out = { v }), (e) => (out = { e }));
  for (let i = 0; i <= turns; i++) {
    await null;
    if (out !== undefined) {
      if ("e" in out) throw out.e;
      return out.v;
    }
  }
  return pending;
}

/** A body's piece as bytes; throws on anything else. */
export function asBytes(v: unknown): Uint8Array {
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  throw new TypeError(`a response body yielded ${typeof v}, not bytes`);
}
