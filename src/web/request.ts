/**
 * A `Request` that is built only when the handler needs one.
 *
 * Constructing the runtime's `Request` costs about 1 µs under Bun and 3 µs
 * under Deno (more with header fields to copy), often more than the rest of a
 * small exchange; Bun.serve and Deno.serve avoid it by filling their requests
 * lazily. {@link LunaRequest} does the same: it is an `instanceof Request`
 * whose `method`, `url` and `headers` come from the parsed head, and whose
 * other members (the body and its readers, `signal`, `clone()`, ...) build the
 * runtime's `Request` on first use and forward to it from then on.
 *
 * What the runtime's constructor would refuse is checked before the handler
 * runs ({@link checkRequest}), so a lazy request never fails later for its
 * head. One difference stays: a native function that checks the receiver's
 * internal slots (`fetch(req)`, `new Request(req)`, `Response.json(..)` do
 * not take it as input) sees a plain object; `req.clone()` gives a real one.
 *
 * @module
 */
import { BadRequest, type RequestHead } from "../apps/http_request.ts";
import { requestUrl } from "./http1.ts";

/** Methods the Fetch standard forbids (`new Request` throws). */
const forbiddenMethods = new Set(["CONNECT", "TRACE", "TRACK"]);
/** Methods the Fetch standard normalizes to upper case. */
const normalizedMethods = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]);
/** A Host whose URL always parses: a name or IPv4 address, and a port. */
const plainHost = /^[A-Za-z0-9.-]{1,253}(:\d{1,5})?$/;
/** A byte that no header value may hold (Fetch: a header value has no NUL, CR or LF). */
const badValue = /[\0\r\n]/;

/**
 * The method as `Request` has it, after checking that the runtime's `Request`
 * would take the request's URL (`url`, made by requestUrl in ./http1.ts, or
 * undefined for an origin-form target, whose URL is made here if it needs a
 * check), its method and its header values; throws the 400 otherwise.
 */
export function checkRequest(head: RequestHead, url: string | undefined, fallbackHost: string): string {
  // A head read again (parseHead gives the same one for the same text) passed already, where its URL
  // needed no check (which would depend on `url` and `fallbackHost`).
  if (head === checkedHead) return checkedMethod;
  // The method and Host of the last request are remembered: a connection sends the same ones again.
  const method = head.method;
  if (method !== lastMethod) {
    lastMethod = method;
    lastUpper = method.toUpperCase();
  }
  const upper = lastUpper;
  if (forbiddenMethods.has(upper)) {
    throw new BadRequest(400, `method ${head.method.slice(0, 20)} is not served`);
  }
  badValueSeen = false;
  head.headers.forEach(checkValue);
  if (badValueSeen) throw new BadRequest(400, "a header field value the Headers class refuses");
  const host = head.headers.get("host");
  if (host !== undefined && host !== lastHost) {
    lastHost = host;
    lastHostPlain = plainHost.test(host);
  }
  const plain = head.target.startsWith("/") && (host === undefined || lastHostPlain);
  if (!plain) {
    let ok = false;
    try {
      ok = new URL(url ?? requestUrl(head, fallbackHost)).protocol.startsWith("http");
    } catch {
      // below
    }
    if (!ok) {
      throw new BadRequest(
        400,
        `${head.method.slice(0, 20)} '${head.target.slice(0, 80)}' with Host '${
          (host ?? "").slice(0, 80)
        }': no URL`,
      );
    }
  }
  const checked = normalizedMethods.has(upper) ? upper : method;
  if (plain) {
    checkedHead = head;
    checkedMethod = checked;
  }
  return checked;
}

/** The last head {@link checkRequest} passed without a URL check, and the method it gave. */
let checkedHead: RequestHead | undefined;
let checkedMethod = "";

/** Whether {@link checkValue} saw a value that Headers refuses (forEach with a function made once: no iterator). */
let badValueSeen = false;

function checkValue(v: string): void {
  if (badValue.test(v)) badValueSeen = true;
}

let lastMethod = "";
let lastUpper = "";
let lastHost = "";
let lastHostPlain = false;

/**
 * A request read from a connection, as the handler sees it; see the module
 * documentation.
 */
export class LunaRequest {
  readonly #method: string;
  /** The URL's text, made on first use. */
  #url: string | undefined;
  readonly #fallbackHost: string;
  readonly #head: RequestHead;
  readonly #body: () => ReadableStream<Uint8Array> | null;
  #href: string | undefined;
  #headers: Headers | undefined;
  #real: Request | undefined;

  /**
   * @internal Made by the server: `url` as requestUrl (./http1.ts) makes it, or undefined to make it on
   * first use (with `fallbackHost` as Host where the head has none); `body` makes the body's stream
   * (called at most once).
   */
  constructor(
    method: string,
    head: RequestHead,
    url: string | undefined,
    fallbackHost: string,
    body: () => ReadableStream<Uint8Array> | null,
  ) {
    this.#method = method;
    this.#url = url;
    this.#fallbackHost = fallbackHost;
    this.#head = head;
    this.#body = body;
  }

  /** The request method, as `Request.method`. */
  get method(): string {
    return this.#method;
  }

  /** The URL, serialized as `Request.url`. */
  get url(): string {
    if (this.#real !== undefined) return this.#real.url;
    return this.#href ??= new URL(this.#urlText()).href;
  }

  /** The header fields, as `Request.headers`. */
  get headers(): Headers {
    if (this.#real !== undefined) return this.#real.headers;
    if (this.#headers === undefined) {
      const h = new Headers();
      for (const [name, value] of this.#head.headers) h.append(name, value);
      this.#headers = h;
    }
    return this.#headers;
  }

  /** The body, as `Request.body` (null without one). */
  get body(): ReadableStream<Uint8Array> | null {
    if (this.#real === undefined && this.#head.body.kind === "none") return null;
    return LunaRequest.real(this).body;
  }

  /** Whether the body was read, as `Request.bodyUsed`. */
  get bodyUsed(): boolean {
    if (this.#real === undefined) return false;
    return this.#real.bodyUsed;
  }

  #urlText(): string {
    return this.#url ??= requestUrl(this.#head, this.#fallbackHost);
  }

  /** The runtime's `Request` for `r`, built on first use. */
  static real(r: LunaRequest): Request {
    if (r.#real === undefined) {
      r.#real = new Request(r.#urlText(), {
        method: r.#method,
        headers: r.headers,
        body: r.#body(),
        // @ts-ignore: `duplex` is in the Fetch standard, not yet in every lib's RequestInit
        duplex: "half",
      });
    }
    return r.#real;
  }
}

// Every other member of Request.prototype (text(), json(), signal, clone(), the runtime's own
// symbols for inspection, ...) forwards to the real Request; instanceof Request holds.
Object.setPrototypeOf(LunaRequest.prototype, Request.prototype);
for (const key of Reflect.ownKeys(Request.prototype)) {
  if (key === "constructor" || Object.prototype.hasOwnProperty.call(LunaRequest.prototype, key)) continue;
  const d = Object.getOwnPropertyDescriptor(Request.prototype, key)!;
  if (d.get !== undefined) {
    const get = d.get;
    Object.defineProperty(LunaRequest.prototype, key, {
      configurable: true,
      enumerable: d.enumerable,
      get(this: LunaRequest) {
        return get.call(LunaRequest.real(this));
      },
    });
  } else if (typeof d.value === "function") {
    const f = d.value as (...args: unknown[]) => unknown;
    Object.defineProperty(LunaRequest.prototype, key, {
      configurable: true,
      enumerable: d.enumerable,
      writable: true,
      value: function (this: LunaRequest, ...args: unknown[]) {
        return f.apply(LunaRequest.real(this), args);
      },
    });
  }
}
