/**
 * HTTP/1.1 pieces of the Web-standard server (RFC 9112): a request head as
 * the runtime's `Request`, a `Response`'s status line and header fields as
 * bytes, and the helpers that frame a body.
 *
 * The request head is read by src/apps/http_request.ts (bounded, incremental,
 * shared with `luna serve http`); this file turns it into Web objects.
 *
 * @module
 */
import { BadRequest, type RequestHead } from "../apps/http_request.ts";

/** Reason phrases for the statuses the server writes itself, and the common ones. */
export const reasons: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  200: "OK",
  201: "Created",
  202: "Accepted",
  204: "No Content",
  206: "Partial Content",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  411: "Length Required",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  505: "HTTP Version Not Supported",
};

const encoder = new TextEncoder();

/** The URL of a request: origin-form targets are resolved against Host (RFC 9112 3.2, 3.3). */
export function requestUrl(head: RequestHead, fallbackHost: string): string {
  const t = head.target;
  const host = head.headers.get("host") ?? fallbackHost;
  // The text only: checkRequest (./request.ts) makes sure `Request` would take it, else a 400.
  if (t.startsWith("/")) return `http://${host}${t}`;
  if (/^https?:\/\//i.test(t)) return t; // absolute-form
  if (t === "*" && head.method === "OPTIONS") return `http://${host}/*`;
  throw refusedRequest(head, fallbackHost);
}

/** The 400 for a request whose target and Host make no URL, or whose method the runtime's Request refuses. */
export function refusedRequest(head: RequestHead, fallbackHost: string): BadRequest {
  const host = head.headers.get("host") ?? fallbackHost;
  return new BadRequest(
    400,
    `${head.method.slice(0, 20)} '${head.target.slice(0, 80)}' with Host '${
      host.slice(0, 80)
    }': no URL, or a method Request refuses`,
  );
}

/** Whether a response to `method` with `status` has no body (RFC 9110 6.4.1). */
export function bodyless(method: string, status: number): boolean {
  return method === "HEAD" || status === 204 || status === 304 || (status >= 100 && status < 200);
}

let dateSecond = -1;
let dateText = "";

/** The Date field (RFC 9110 6.6.1), made once a second. */
export function httpDate(): string {
  const now = Date.now();
  const s = Math.floor(now / 1000);
  if (s !== dateSecond) {
    dateSecond = s;
    dateText = new Date(s * 1000).toUTCString();
  }
  return dateText;
}

/** How the server frames a response body. */
export type Framing =
  | { kind: "length"; length: number }
  | { kind: "chunked" }
  | { kind: "close" } // HTTP/1.0 with a length unknown: the end of the body is the end of the connection
  | { kind: "none" };

/** A response's status line and the handler's header fields, read once; see {@link responseFields}. */
export interface ResponseFields {
  /** The status line and the fields kept, each line ending in CRLF. */
  text: string;
  /** The handler's Connection field says close. */
  close: boolean;
  hasDate: boolean;
  hasServer: boolean;
  /** The handler's headers hold a Content-Type. */
  hasType: boolean;
  /** The head gets the Content-Type Bun.serve gives a string body ({@link bunTextType}); set by the server. */
  textType: boolean;
}

/** The Content-Type Bun.serve gives a string body (see ./serve.ts's module documentation). */
const bunTextType = "content-type: text/plain;charset=utf-8\r\n";

/** Where {@link addField} puts what it is given (one call of {@link responseFields} at a time). */
let into: ResponseFields = {
  text: "",
  close: false,
  hasDate: false,
  hasServer: false,
  hasType: false,
  textType: false,
};
let keepLengthNow = false;

/** One of the handler's fields, to {@link into} (a function made once: no closure per response). */
function addField(value: string, name: string): void {
  const f = into;
  if (name === "connection") {
    if (value.toLowerCase().split(",").some((t) => t.trim() === "close")) f.close = true;
    return;
  }
  if (name === "transfer-encoding" || name === "keep-alive") return;
  if (name === "content-length" && !keepLengthNow) return;
  if (name === "date") f.hasDate = true;
  else if (name === "server") f.hasServer = true;
  else if (name === "content-type") f.hasType = true;
  pairs.push(name, value);
}

/** The fields {@link addField} kept of the response being read, name then value, and of the one before. */
let pairs: string[] = [];
let lastPairs: string[] = [];
/** The text of the response before: its status line, and that line with its fields. */
let lastStatusLine = "";
let lastFieldsText = "";

/** Status lines with the standard reason phrase, by status, each made once. */
const statusLines: (string | undefined)[] = [];

/** The status line of `status` with `statusText` (the reason phrase in {@link reasons} when empty). */
function statusLine(status: number, statusText: string): string {
  if (statusText !== "") return `HTTP/1.1 ${status} ${statusText}\r\n`;
  return statusLines[status] ??= `HTTP/1.1 ${status} ${reasons[status] || "Status"}\r\n`;
}

/**
 * A response's status line and header fields. Framing fields the handler set
 * (Content-Length, Transfer-Encoding, Connection) are left for the server's
 * own, except Content-Length on a bodyless answer (`keepLength`: HEAD, 304).
 * Read with `Headers.forEach`, which costs a fraction of the iterator's
 * objects under both runtimes (each Set-Cookie comes on its own, as the
 * iterator gives them), with one callback made once for all responses.
 */
export function responseFields(res: Response, keepLength: boolean): ResponseFields {
  const f: ResponseFields = {
    text: statusLine(res.status, res.statusText),
    close: false,
    hasDate: false,
    hasServer: false,
    hasType: false,
    textType: false,
  };
  into = f;
  keepLengthNow = keepLength;
  pairs.length = 0;
  res.headers.forEach(addField);
  if (pairs.length > 0) f.text = fieldsText(f.text);
  return f;
}

/**
 * `line` and the fields in {@link pairs} as text: the text made for the
 * response before when its status line and fields were the same (responses
 * in a row mostly are alike), so that the head made from it is found again
 * (responseHeadBytes compares it as the same string) and no text is built.
 */
function fieldsText(line: string): string {
  const p = pairs;
  const q = lastPairs;
  let same = line === lastStatusLine && p.length === q.length;
  for (let i = 0; same && i < p.length; i++) same = p[i] === q[i];
  if (same) return lastFieldsText;
  let text = line;
  for (let i = 0; i < p.length; i += 2) text += `${p[i]}: ${p[i + 1]}\r\n`;
  // The lists take turns: this one is the response before's for the next call.
  pairs = q;
  lastPairs = p;
  lastStatusLine = line;
  lastFieldsText = text;
  return text;
}

/** The whole head: {@link responseFields}, Date and Server unless the handler set them, and the framing. */
function responseHead(f: ResponseFields, date: string, framing: Framing, close: boolean): string {
  let s = f.text;
  if (f.textType) s += bunTextType;
  if (!f.hasDate) s += `date: ${date}\r\n`;
  if (!f.hasServer) s += "server: luna-ts\r\n";
  if (framing.kind === "length") s += `content-length: ${framing.length}\r\n`;
  else if (framing.kind === "chunked") s += "transfer-encoding: chunked\r\n";
  if (close || framing.kind === "close") s += "connection: close\r\n";
  return s + "\r\n";
}

/** The last head {@link responseHeadBytes} made, and what it was made of. */
let lastHead = new Uint8Array(0);
let lastText = "";
let lastDate = "";
let lastShape = -1;
let lastLength = -1;

/**
 * {@link responseHead} as bytes. Answers in a row mostly have the same head
 * (the same status line and fields, length and date): the last one made is
 * given again where nothing it was made of changed (its text, the date's
 * second, the framing and its length, whether it closes), without making or
 * encoding its text again. The bytes are shared: read them, never change them.
 */
export function responseHeadBytes(f: ResponseFields, framing: Framing, close: boolean): Uint8Array {
  const date = f.hasDate ? "" : httpDate();
  const length = framing.kind === "length" ? framing.length : -1;
  const shape = (close ? 1 : 0) | (f.textType ? 2 : 0) | (f.hasDate ? 4 : 0) | (f.hasServer ? 8 : 0) |
    (framing.kind === "length" ? 16 : framing.kind === "chunked" ? 32 : framing.kind === "close" ? 64 : 0);
  // The date's text is one string per second (httpDate), and a status line without fields one per status:
  // both compare as the same string, without reading their characters.
  if (f.text !== lastText || date !== lastDate || shape !== lastShape || length !== lastLength) {
    lastHead = encoder.encode(responseHead(f, date, framing, close));
    lastText = f.text;
    lastDate = date;
    lastShape = shape;
    lastLength = length;
  }
  return lastHead;
}

/** A short text answer the server makes itself (errors): the whole message, and it closes. */
export function plainResponse(status: number, text: string, close: boolean): Uint8Array {
  const body = encoder.encode(text);
  const head =
    `HTTP/1.1 ${status} ${reasons[status] ?? "Status"}\r\ncontent-type: text/plain;charset=utf-8\r\n` +
    `date: ${httpDate()}\r\nserver: luna-ts\r\ncontent-length: ${body.length}\r\n` +
    (close ? "connection: close\r\n" : "") + "\r\n";
  return concat([encoder.encode(head), body]);
}

/** One chunk of a chunked body (RFC 9112 7.1): size line, data, CRLF, in one piece. */
export function chunk(data: Uint8Array): Uint8Array {
  const size = encoder.encode(data.length.toString(16) + "\r\n");
  const out = new Uint8Array(size.length + data.length + 2);
  out.set(size);
  out.set(data, size.length);
  out[out.length - 2] = 13;
  out[out.length - 1] = 10;
  return out;
}

/** The last chunk and the end of a chunked body, no trailers. */
export const lastChunk: Uint8Array = encoder.encode("0\r\n\r\n");

/** The pieces joined. */
export function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The text of a head as bytes. */
export function encodeHead(text: string): Uint8Array {
  return encoder.encode(text);
}
