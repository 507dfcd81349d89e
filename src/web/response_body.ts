/**
 * Reading a `Response`'s body for the server (./serve.ts): with as few
 * microtask turns and as little stream machinery as the runtime allows.
 *
 * - Under Deno, a body made from text is kept aside by the `Response` until
 *   something asks for its stream; {@link lazyText} reads it there, as
 *   Deno.serve does, and no stream is made.
 * - Under Bun, a body the `Response` holds as bytes (made from a string or
 *   bytes) is read with `bytes()`, which Bun answers at once, and no stream is
 *   made: {@link heldBytes} tells such a body from a stream.
 * - Under Bun, `Bun.peek` reads a promise's state without a turn:
 *   {@link peek} tells a read that is done already, {@link settledSoon}
 *   waits for one without attaching handlers.
 * - Elsewhere, {@link settled} waits a few turns with handlers attached.
 *
 * {@link assemble} puts a head and the gathered body together in one reused
 * buffer ({@link assembly}), for the one write that queues them; an ASCII
 * text body goes there by its character codes ({@link assembleAscii}).
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

/** Bun's memory estimate of a `Response` that holds no bytes (a stream, or no body) and no status text. */
let estimateBare = 0;
/** Bun's `estimateShallowMemoryUsageOf` (bun:jsc), where the checks in {@link heldProbe} hold. */
const estimate: ((v: object) => number) | undefined = heldProbe();

/**
 * Under Bun, how to tell a `Response` that holds its body as bytes (made from
 * a string, an ArrayBuffer or a typed array) from one with a stream, without
 * touching its `body`: asking for the body makes a `ReadableStream` (about
 * 3 µs, more than the rest of a small answer), and only `bytes()` reads held
 * bytes without one, but `bytes()` would drain a stream to its end. Bun's
 * memory estimate of a `Response` counts the bytes it holds and its status
 * text, not a stream; that is checked here once on Responses of each kind,
 * and where it does not hold (another Bun) the estimate is not used.
 */
function heldProbe(): ((v: object) => number) | undefined {
  if (peek === undefined) return undefined;
  let f: ((v: object) => number) | undefined;
  try {
    const req = (import.meta as { require?: (m: string) => unknown }).require;
    f = (req?.("bun:jsc") as { estimateShallowMemoryUsageOf?: (v: object) => number } | undefined)
      ?.estimateShallowMemoryUsageOf;
  } catch {
    return undefined;
  }
  if (typeof f !== "function" || typeof (Response.prototype as { bytes?: unknown }).bytes !== "function") {
    return undefined;
  }
  const bare = f(new Response(null));
  const holds = f(new Response(new ReadableStream())) === bare &&
    f(new Response(new ReadableStream(), { statusText: "abc", headers: { "x-a": "b".repeat(100) } })) ===
      bare + 3 &&
    f(new Response("abc", { statusText: "abc" })) > bare + 3 &&
    f(new Response(new Uint8Array(100))) >= bare + 100;
  if (!holds) return undefined;
  estimateBare = bare;
  return f;
}

/**
 * Under Bun, the body of `res` when `res` holds it as bytes (see
 * {@link heldProbe}): its bytes, or a promise of them; undefined when the body
 * is a stream, a Blob, empty, or the runtime is not Bun.
 */
export function heldBytes(res: Response): Uint8Array | Promise<Uint8Array> | undefined {
  // A fetched Response (its url set) is left to the stream path, whatever it buffered.
  if (estimate === undefined || res.url !== "" || res.bodyUsed) return undefined;
  if (estimate(res) <= estimateBare + res.statusText.length) return undefined;
  const p = (res as unknown as { bytes(): Promise<Uint8Array> }).bytes();
  return peek!.status(p) === "fulfilled" ? peek!(p) as Uint8Array : p;
}

/** Where an answer's head and body are put together before the one write that queues them (reused). */
let scratch = new Uint8Array(16384);

/**
 * `head` then `parts` (`total` bytes), put in {@link assembly}'s buffer (valid until the next call);
 * returns the bytes put there.
 */
export function assemble(head: Uint8Array, parts: Uint8Array[], total: number): number {
  const most = head.length + total;
  if (most > scratch.length) scratch = new Uint8Array(Math.max(most, scratch.length * 2));
  scratch.set(head);
  let o = head.length;
  for (const p of parts) {
    scratch.set(p, o);
    o += p.length;
  }
  return o;
}

/** Longest text body {@link asciiLength} reads through; a longer one is encoded. */
const asciiScanMax = 4096;

/**
 * The length in UTF-8 of `text` when it is all ASCII (a byte per character) and not over
 * {@link asciiScanMax}, else -1. Such a text goes into the assembly by its character codes
 * ({@link assembleAscii}): under Deno a TextEncoder call costs more than the rest of a small
 * answer's body.
 */
export function asciiLength(text: string): number {
  const n = text.length;
  if (n > asciiScanMax) return -1;
  for (let i = 0; i < n; i++) if (text.charCodeAt(i) >= 0x80) return -1;
  return n;
}

/** `head` then the ASCII `text` (see {@link asciiLength}) in {@link assembly}'s buffer; returns the bytes put there. */
export function assembleAscii(head: Uint8Array, text: string): number {
  const most = head.length + text.length;
  if (most > scratch.length) scratch = new Uint8Array(Math.max(most, scratch.length * 2));
  const b = scratch;
  b.set(head);
  let o = head.length;
  for (let i = 0; i < text.length; i++) b[o++] = text.charCodeAt(i);
  return o;
}

/** The buffer {@link assemble} puts its bytes in, from its start (no view made per answer). */
export function assembly(): Uint8Array {
  return scratch;
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
