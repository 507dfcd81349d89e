/**
 * Incremental HTTP/1.1 request parsing (RFC 9112) over a connection's byte
 * stream: {@link HeadReader} collects a request's head across as many
 * segments as it spans, {@link parseHead} reads it, and {@link BodyReader}
 * walks a Content-Length or chunked body, handing each stretch of payload
 * to the caller as a view of the packet buffer it arrived in.
 *
 * The readers take bytes from views of received buffers and say how many
 * they used; the caller consumes that many, so the next request's bytes
 * (pipelining) stay queued until the current one is answered.
 *
 * @module
 */
import { Buffer } from "node:buffer";

/** A request's head, read (shared between requests with the same head: see {@link parseHead}). */
export interface RequestHead {
  readonly method: string;
  /** The request target as sent: `/bytes/100`. */
  readonly target: string;
  /** `HTTP/1.1`. */
  readonly version: string;
  /** Header fields by lowercase name; repeated fields joined with `, `. */
  readonly headers: ReadonlyMap<string, string>;
  /** How the body is framed (RFC 9112 6.3). */
  readonly body: { readonly kind: "none" } | { readonly kind: "length"; readonly length: number } | {
    readonly kind: "chunked";
  };
  /** Whether the connection stays open after the response (RFC 9112 9.3). */
  readonly keepAlive: boolean;
  /** `Expect: 100-continue` (RFC 9110 10.1.1). */
  readonly expectContinue: boolean;
}

/** Why a head is refused: the status to answer, and a reason. */
export class BadRequest extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** Largest head accepted, bytes. */
export const headBytesMax = 16384;

const CR = 13;
const LF = 10;

/**
 * Where heads are collected while they arrive whole (most do, in one segment): one buffer for all
 * readers, so that a connection costs no buffer of its own. A head still incomplete when its
 * {@link HeadReader.feed} returns moves to a buffer of its reader's, as does one that another
 * reader's head would overwrite before it is taken.
 */
let shared = new Uint8Array(2048);
/** {@link shared} as a Buffer, for its latin1 decoder. */
let sharedText = Buffer.from(shared.buffer, 0, shared.length);
/** The reader whose bytes {@link shared} holds, if any. */
let sharedOwner: HeadReader | undefined;

/** Collects one request head, up to and including its empty line. */
export class HeadReader {
  /** Largest head taken, bytes. */
  readonly max: number;
  /** This reader's own buffer, while its bytes are not in {@link shared}. */
  #own: Uint8Array | undefined = undefined;
  #len = 0;
  /** Line feeds seen with only a CR between them: 2 ends the head. */
  #lfs = 0;
  /** A head that arrived whole in one range, as text, until {@link take}. */
  #text: string | undefined = undefined;

  constructor(max = headBytesMax) {
    this.max = max;
  }

  /** Bytes collected so far. */
  get length(): number {
    return this.#len;
  }

  /** Whether the head is complete: the last {@link feed} ended it, and it waits to be {@link take}n. */
  done = false;

  /**
   * Takes bytes from `v[from, to)` until the head is complete; returns how
   * many it took, and {@link done} says whether the head is complete
   * ({@link take} it). A number, not an object: this runs once per request.
   * Throws {@link BadRequest} (431) past {@link max} ({@link headBytesMax} by default).
   */
  feed(v: Uint8Array, from: number, to: number): number {
    if (this.#len === 0 && this.#own === undefined) {
      // The usual case: the whole head in this range. Found where it ends without copying its bytes,
      // it is made text straight from `v`.
      let i = from;
      while (i < to && (v[i] === CR || v[i] === LF)) i++;
      // The same bytes as the last whole head end where it ended (the end depends on nothing after it).
      const n = lastWholeLen;
      if (n > 0 && n <= this.max && to - i >= n && sameAsLastWhole(v, i)) {
        this.#text = lastWholeText;
        this.done = true;
        return i + n - from;
      }
      const end = wholeHeadEnd(v, i, to);
      if (end >= 0 && end - i <= this.max) {
        this.#text = wholeHeadText(v, i, end);
        this.done = true;
        return end - from;
      }
    }
    let buf = this.#own;
    if (buf === undefined) {
      if (sharedOwner !== undefined && sharedOwner !== this && sharedOwner.#len > 0) sharedOwner.#moveOut();
      sharedOwner = this;
      buf = shared;
    }
    let i = from;
    for (; i < to; i++) {
      const b = v[i];
      // RFC 9112 2.2: empty lines before a request line are ignored.
      if (this.#len === 0 && (b === CR || b === LF)) continue;
      if (this.#len >= this.max) throw new BadRequest(431, `request head over ${this.max} bytes`);
      if (this.#len === buf.length) buf = this.#grow(buf);
      buf[this.#len++] = b;
      if (b === LF) {
        if (++this.#lfs === 2) {
          this.done = true;
          return i + 1 - from;
        }
      } else if (b !== CR) {
        this.#lfs = 0;
      }
    }
    // Incomplete: the rest comes with a later segment, after other connections' heads.
    if (this.#own === undefined && this.#len > 0) this.#moveOut();
    this.done = false;
    return i - from;
  }

  /** The collected head as text; resets the reader for the next request. */
  take(): string {
    this.done = false;
    // Byte i becomes char code i (latin1 as Buffer has it; TextDecoder's "latin1" is windows-1252). The
    // string comes out in the one-byte form that the regular expressions and indexOf of parseHead walk
    // fastest (String.fromCharCode.apply made one that cost a third more to parse under Bun).
    const whole = this.#text;
    if (whole !== undefined) {
      this.#text = undefined;
      return whole;
    }
    const own = this.#own;
    const s = own === undefined
      ? sharedText.toString("latin1", 0, this.#len)
      : Buffer.from(own.buffer, own.byteOffset, this.#len).toString("latin1");
    if (sharedOwner === this) sharedOwner = undefined;
    this.#own = undefined;
    this.#len = 0;
    this.#lfs = 0;
    return s;
  }

  /** Forgets the head it was collecting, if any: ready for another connection's. */
  reset(): void {
    if (sharedOwner === this) sharedOwner = undefined;
    this.#own = undefined;
    this.#len = 0;
    this.#lfs = 0;
    this.#text = undefined;
    this.done = false;
  }

  /** A buffer twice as large (at most {@link max}) holding what `buf` holds, in place of it. */
  #grow(buf: Uint8Array): Uint8Array {
    const g = new Uint8Array(Math.min(Math.max(this.#len * 2, 512), this.max));
    g.set(buf.subarray(0, this.#len));
    if (buf === shared) {
      shared = g;
      sharedText = Buffer.from(g.buffer, 0, g.length);
    } else {
      this.#own = g;
    }
    return g;
  }

  /** Moves this reader's bytes out of {@link shared} into a buffer of its own. */
  #moveOut(): void {
    const own = new Uint8Array(Math.min(Math.max(this.#len * 2, 512), this.max));
    own.set(shared.subarray(0, this.#len));
    this.#own = own;
    if (sharedOwner === this) sharedOwner = undefined;
  }
}

/**
 * Where the head starting at `v[from]` ends (the index after the LF of its empty line) when it ends
 * before `to`, else -1: the end {@link HeadReader.feed}'s byte loop finds (two LFs with only CRs
 * between them).
 */
function wholeHeadEnd(v: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) {
    if (v[i] !== LF) continue;
    let j = i + 1;
    while (j < to && v[j] === CR) j++;
    if (j === to) return -1;
    if (v[j] === LF) return j + 1;
    i = j;
  }
  return -1;
}

/** The bytes of the last head {@link wholeHeadText} made text, and that text. */
let lastWhole = new Uint8Array(256);
let lastWholeLen = -1;
let lastWholeText = "";

/**
 * Whether `v` holds the bytes of the last whole head at `from` (there are
 * enough bytes). A client sends the same head again and again: comparing the
 * bytes costs less than finding the head's end and decoding it, and the same
 * string lets parseHead find its head again at once.
 */
function sameAsLastWhole(v: Uint8Array, from: number): boolean {
  const n = lastWholeLen;
  const last = lastWhole;
  let k = 0;
  while (k < n && v[from + k] === last[k]) k++;
  return k === n;
}

/** `v[from, to)` as text, remembered as the last whole head. */
function wholeHeadText(v: Uint8Array, from: number, to: number): string {
  const n = to - from;
  const text = latin1Of(v).toString("latin1", from, to);
  if (n > lastWhole.length) lastWhole = new Uint8Array(Math.max(n, lastWhole.length * 2));
  const last = lastWhole;
  for (let k = 0; k < n; k++) last[k] = v[from + k];
  lastWholeLen = n;
  lastWholeText = text;
  return text;
}

/** The array last given to {@link latin1Of}, and a Buffer over the same bytes. */
let latin1Array: Uint8Array | undefined;
let latin1Buffer: Buffer | undefined;

/** A Buffer over `v`'s bytes, for its latin1 decoder (made once per array: a connection's is its zone). */
function latin1Of(v: Uint8Array): Buffer {
  if (v !== latin1Array) {
    latin1Buffer = Buffer.from(v.buffer, v.byteOffset, v.length);
    latin1Array = v;
  }
  return latin1Buffer!;
}

/** tchar (RFC 9110 5.6.2), by character code: the characters of a method and a field name. */
const tchar = new Uint8Array(128);
for (const ch of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") {
  tchar[ch.charCodeAt(0)] = 1;
}

/** Whether `text[from, to)` is a token (one or more tchars). */
function isToken(text: string, from: number, to: number): boolean {
  if (to <= from) return false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || tchar[c] === 0) return false;
  }
  return true;
}

/** Whether `text[from, to)` holds no whitespace as a regular expression's `\s` has it in latin1 text. */
function noSpace(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 32 || (c >= 9 && c <= 13) || c === 0xa0) return false;
  }
  return true;
}

/** Whether `text[from, to)` is `HTTP/d.d`. */
function isVersion(text: string, from: number, to: number): boolean {
  // By character codes: startsWith with a position cost more than the rest of the request line under Bun.
  if (to - from !== 8) return false;
  for (let i = 0; i < 5; i++) if (text.charCodeAt(from + i) !== httpPrefix[i]) return false;
  const a = text.charCodeAt(from + 5);
  const b = text.charCodeAt(from + 7);
  return a >= 48 && a <= 57 && text.charCodeAt(from + 6) === 46 && b >= 48 && b <= 57;
}

/** `HTTP/` by character code. */
const httpPrefix = [72, 84, 84, 80, 47];

/** Where the line ending at the LF at `lf` (-1: the end of `text`) ends, its CR left out. */
function lineEnd(text: string, start: number, lf: number): number {
  if (lf < 0) return text.length;
  return lf > start && text.charCodeAt(lf - 1) === CR ? lf - 1 : lf;
}

/** Methods whose string is made once: a request's method is one of these nearly always. */
const methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"];

/** `text[0, sp)`, the method: one of {@link methods}' strings where it is one, else a new slice. */
function methodOf(text: string, sp: number): string {
  for (const m of methods) if (m.length === sp && text.startsWith(m)) return m;
  return text.slice(0, sp);
}

/**
 * Header names as clients spell them, each to its lowercase string made once: a lookup of the raw name
 * costs less than lowering it (a new string per field).
 */
const knownNames = new Map<string, string>();
for (
  const name of [
    "Host",
    "User-Agent",
    "Accept",
    "Accept-Encoding",
    "Accept-Language",
    "Connection",
    "Content-Length",
    "Content-Type",
    "Transfer-Encoding",
    "Expect",
    "Cookie",
    "Authorization",
    "Cache-Control",
    "Origin",
    "Referer",
  ]
) {
  knownNames.set(name, name.toLowerCase());
  knownNames.set(name.toLowerCase(), name.toLowerCase());
}

/** Whether character code `c` is whitespace as String.prototype.trim has it (latin1 text). */
function trimmed(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 0xa0;
}

/** The body of a request without one (shared: nothing writes a head's body). */
const noBody: RequestHead["body"] = Object.freeze({ kind: "none" });

/** The text {@link parseHead} read last, and what it read there. */
let lastText = "";
let lastHead: RequestHead | undefined;

/**
 * Reads a complete head; throws {@link BadRequest}. The head read last is
 * given again for the same text (a client sends the same head request after
 * request, and clients alike send alike heads): a head is shared, read it and
 * never change it.
 */
export function parseHead(text: string): RequestHead {
  if (text === lastText && lastHead !== undefined) return lastHead;
  const head = readHead(text);
  lastText = text;
  lastHead = head;
  return head;
}

function readHead(text: string): RequestHead {
  // Lines end in CRLF or a bare LF (RFC 9112 2.2); walked with indexOf and character codes (no regular
  // expression, no split: this runs once per request).
  let lf = text.indexOf("\n");
  const end = lineEnd(text, 0, lf);
  // RFC 9112 3: method SP request-target SP HTTP-version.
  const sp1 = text.indexOf(" ");
  const sp2 = sp1 < 0 ? -1 : text.indexOf(" ", sp1 + 1);
  if (
    sp1 < 0 || sp2 < 0 || sp2 >= end || !isToken(text, 0, sp1) || sp2 === sp1 + 1 ||
    !noSpace(text, sp1 + 1, sp2) || !isVersion(text, sp2 + 1, end)
  ) {
    throw new BadRequest(400, `malformed request line '${text.slice(0, Math.min(end, 80))}'`);
  }
  const method = methodOf(text, sp1);
  const target = text.slice(sp1 + 1, sp2);
  // isVersion checked the shape: HTTP/d.d.
  const major = text.charCodeAt(sp2 + 6);
  const minor = text.charCodeAt(sp2 + 8);
  if (major !== 49 || (minor !== 49 && minor !== 48)) {
    throw new BadRequest(505, `${text.slice(sp2 + 1, end)} is not served`);
  }
  const http11 = minor === 49;
  const version = http11 ? "HTTP/1.1" : "HTTP/1.0";
  const headers = new Map<string, string>();
  while (lf >= 0) {
    const start = lf + 1;
    lf = text.indexOf("\n", start);
    const stop = lineEnd(text, start, lf);
    if (stop === start) continue;
    const colon = text.indexOf(":", start);
    // RFC 9112 5.1: no whitespace between the name and the colon; obsolete line folding is refused.
    if (colon < 0 || colon >= stop || !isToken(text, start, colon)) {
      throw new BadRequest(400, `malformed header line '${text.slice(start, Math.min(stop, start + 80))}'`);
    }
    const raw = text.slice(start, colon);
    const name = knownNames.get(raw) ?? raw.toLowerCase();
    // The value without the whitespace around it (as trim() has it), sliced once.
    let a = colon + 1;
    let b = stop;
    while (a < b && trimmed(text.charCodeAt(a))) a++;
    while (b > a && trimmed(text.charCodeAt(b - 1))) b--;
    const value = text.slice(a, b);
    const had = headers.get(name);
    headers.set(name, had === undefined ? value : `${had}, ${value}`);
  }
  if (http11 && !headers.has("host")) {
    throw new BadRequest(400, "HTTP/1.1 request without Host");
  }
  const connection = headers.get("connection");
  let keepAlive = http11;
  if (connection !== undefined) {
    const conn = connection.toLowerCase();
    // One token (the usual case) without a split.
    if (conn === "close") keepAlive = false;
    else if (conn === "keep-alive") keepAlive = true;
    else {
      const tokens = conn.split(",").map((s) => s.trim());
      keepAlive = http11 ? !tokens.includes("close") : tokens.includes("keep-alive");
    }
  }
  const te = headers.get("transfer-encoding");
  const cl = headers.get("content-length");
  let body = noBody;
  if (te !== undefined) {
    // RFC 9112 6.3 (3, 4): chunked must come last; a Content-Length beside it is ignored.
    const codings = te.toLowerCase().split(",").map((s) => s.trim());
    if (codings.length !== 1 || codings[0] !== "chunked") {
      throw new BadRequest(501, `transfer coding '${te}' is not served`);
    }
    body = { kind: "chunked" };
  } else if (cl !== undefined) {
    const values = new Set(cl.split(",").map((s) => s.trim()));
    const v = [...values][0];
    if (values.size !== 1 || !/^\d{1,15}$/.test(v)) throw new BadRequest(400, `bad Content-Length '${cl}'`);
    const length = Number(v);
    if (length > 0) body = { kind: "length", length };
  }
  const expect = headers.get("expect");
  const expectContinue = http11 && expect !== undefined && expect.toLowerCase() === "100-continue";
  return { method, target, version, headers, body, keepAlive, expectContinue };
}

const enum Chunk {
  size,
  ext,
  sizeLf,
  data,
  dataCr,
  dataLf,
  trailer,
  done,
}

/**
 * Walks a request body. {@link next} returns the payload it finds at the
 * front of `v` (a subarray, no copy) and the bytes it used; framing bytes
 * (chunk sizes, CRLFs, trailers) are used without payload.
 */
export class BodyReader {
  #chunked = false;
  #left = 0;
  #state = Chunk.done;
  #size = 0;
  #digits = 0;
  #trailerLen = 0;
  /** Payload bytes read so far. */
  total = 0;

  /** Starts a body; `none` is done at once. */
  start(body: RequestHead["body"]): void {
    this.total = 0;
    this.#chunked = body.kind === "chunked";
    this.#left = body.kind === "length" ? body.length : 0;
    this.#state = body.kind === "chunked" ? Chunk.size : Chunk.done;
    this.#size = 0;
    this.#digits = 0;
    this.#trailerLen = 0;
  }

  /** Whether the body is complete. */
  get done(): boolean {
    return this.#chunked ? this.#state === Chunk.done : this.#left === 0;
  }

  /** Payload at the front of `v` (possibly empty) and the bytes of `v` used; throws {@link BadRequest}. */
  next(v: Uint8Array): { payload: Uint8Array; used: number } {
    if (!this.#chunked) {
      const n = Math.min(this.#left, v.length);
      this.#left -= n;
      this.total += n;
      return { payload: v.subarray(0, n), used: n };
    }
    let i = 0;
    while (i < v.length && this.#state !== Chunk.done) {
      const b = v[i];
      switch (this.#state) {
        case Chunk.data: {
          // Framing came first: report it used; the data comes on the next call.
          if (i > 0) return { payload: v.subarray(0, 0), used: i };
          const n = Math.min(this.#left, v.length);
          this.#left -= n;
          this.total += n;
          if (this.#left === 0) this.#state = Chunk.dataCr;
          return { payload: v.subarray(0, n), used: n };
        }
        case Chunk.size: {
          const d = hexDigit(b);
          if (d >= 0) {
            if (++this.#digits > 12) throw new BadRequest(400, "chunk size too large");
            this.#size = this.#size * 16 + d;
          } else if (this.#digits === 0) {
            throw new BadRequest(400, "chunk size missing");
          } else if (b === 0x3b /* ; */ || b === 0x20 || b === 0x09) {
            this.#state = Chunk.ext;
          } else if (b === CR) {
            this.#state = Chunk.sizeLf;
          } else if (b === LF) {
            this.#endSizeLine();
          } else {
            throw new BadRequest(400, "bad chunk size");
          }
          break;
        }
        case Chunk.ext:
          // Chunk extensions are ignored (RFC 9112 7.1.1).
          if (b === LF) this.#endSizeLine();
          break;
        case Chunk.sizeLf:
          if (b !== LF) throw new BadRequest(400, "chunk size line without LF");
          this.#endSizeLine();
          break;
        case Chunk.dataCr:
          if (b === CR) this.#state = Chunk.dataLf;
          else if (b === LF) this.#startSize();
          else throw new BadRequest(400, "chunk data longer than its size");
          break;
        case Chunk.dataLf:
          if (b !== LF) throw new BadRequest(400, "chunk data without CRLF");
          this.#startSize();
          break;
        case Chunk.trailer:
          // Trailer fields are read and dropped; an empty line ends the body.
          if (b === LF) {
            if (this.#trailerLen === 0) this.#state = Chunk.done;
            this.#trailerLen = 0;
          } else if (b !== CR) {
            if (++this.#trailerLen > headBytesMax) throw new BadRequest(400, "trailer line too long");
          }
          break;
      }
      i++;
    }
    return { payload: v.subarray(0, 0), used: i };
  }

  #endSizeLine(): void {
    if (this.#size === 0) {
      this.#state = Chunk.trailer;
      this.#trailerLen = 0;
    } else {
      this.#left = this.#size;
      this.#state = Chunk.data;
    }
  }

  #startSize(): void {
    this.#state = Chunk.size;
    this.#size = 0;
    this.#digits = 0;
  }
}

function hexDigit(b: number): number {
  if (b >= 0x30 && b <= 0x39) return b - 0x30;
  if (b >= 0x61 && b <= 0x66) return b - 0x57;
  if (b >= 0x41 && b <= 0x46) return b - 0x37;
  return -1;
}
