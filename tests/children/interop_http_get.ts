// luna as an HTTP client: connects through DEVICE to an HTTP server on the kernel's TCP
// (`python3 -m http.server` in the peer namespace), sends one small GET with Connection: close,
// reads the response through zero-copy views, hashes the body, answers the server's FIN with
// its own, and prints RESULT {json}.
// Usage: interop_http_get.ts PREFIX DEVICE CIDR SERVER_IP PORT PATH MODE [FAULTS]
//   DEVICE  a device spec (af_packet:IFACE, af_xdp:IFACE)
//   FAULTS  as `luna serve --faults` takes them (loss=0.01,reorder=0.25,...,seed=N), or "-"
import { createHash } from "node:crypto";
import { parseFaults } from "../../src/cli/args.ts";
import type { StackConfigInput } from "../../src/api/config.ts";
import { type Connection, createStack } from "../../src/mod.ts";

const [prefix, device, cidr, serverIp, portArg, path, mode, faultsArg] = process.argv.slice(2);
const faults = faultsArg !== undefined && faultsArg !== "-" ? parseFaults(faultsArg) : undefined;
const stack = await createStack({
  device,
  address: cidr,
  mode: mode as "batch" | "inline",
  eal: { prefix },
  ...(faults !== undefined ? { faults: faults as StackConfigInput["faults"] } : {}),
});

const request = new TextEncoder().encode(
  `GET ${path} HTTP/1.1\r\nHost: ${serverIp}:${portArg}\r\nUser-Agent: luna-ts-interop\r\nConnection: close\r\n\r\n`,
);
const hash = createHash("sha256");
let head = "";
let headDone = false;
let status = 0;
let contentLength = -1;
let bodyBytes = 0;
let sent = 0;
let opened = false;
let ended = false;
let closed = false;
let error: string | undefined;
let protocolError: string | undefined;
const t0 = performance.now();
let tOpen = 0;
let tEnd = 0;

function pump(c: Connection): void {
  while (sent < request.length) {
    const n = c.write(request.subarray(sent));
    sent += n;
    if (n === 0) return; // onWritable follows
  }
}

function take(v: Uint8Array): void {
  if (headDone) {
    hash.update(v);
    bodyBytes += v.length;
    return;
  }
  // The head is ASCII; a byte-wise latin1 decode keeps offsets equal to byte counts.
  let chunk = "";
  for (let i = 0; i < v.length; i++) chunk += String.fromCharCode(v[i]);
  head += chunk;
  const end = head.indexOf("\r\n\r\n");
  if (end < 0) {
    if (head.length > 65536) protocolError = "response head over 64 KiB";
    return;
  }
  headDone = true;
  const lines = head.slice(0, end).split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3}) /.exec(lines[0]);
  if (m === null) protocolError = `not a status line: ${JSON.stringify(lines[0])}`;
  else status = Number(m[1]);
  for (const l of lines.slice(1)) {
    const c = l.indexOf(":");
    if (l.slice(0, c).trim().toLowerCase() === "content-length") {
      contentLength = Number(l.slice(c + 1).trim());
    }
  }
  // The part of this view past the head is body.
  const bodyStart = v.length - (head.length - (end + 4));
  const body = v.subarray(bodyStart);
  hash.update(body);
  bodyBytes += body.length;
}

const conn = stack.connect(serverIp, Number(portArg), {
  onOpen(c) {
    opened = true;
    tOpen = performance.now();
    pump(c);
  },
  onWritable: pump,
  onData(c) {
    for (let v = c.peek(); v.length > 0; v = c.peek()) {
      take(v);
      c.consume(v.length);
    }
  },
  onEnd(c) {
    ended = true;
    tEnd = performance.now();
    c.close(); // our FIN after theirs: a clean close from both sides
  },
  onClose(_c, e) {
    closed = true;
    error = e;
  },
});

const ok = await stack.runUntil(() => closed, Number(process.env.LUNA_INTEROP_CLIENT_MS ?? 90_000));
const seconds = ((tEnd || performance.now()) - tOpen) / 1000;
const connStats = conn.stats();
const stats = stack.stats();
await stack.close();
console.log(
  "RESULT " + JSON.stringify({
    ok,
    opened,
    ended,
    closed,
    error,
    protocolError,
    status,
    contentLength,
    bodyBytes,
    sha256: hash.digest("hex"),
    seconds,
    connectMs: tOpen - t0,
    faultSeed: faults?.seed,
    conn: connStats,
    tcp: stats.tcp,
    zone: stats.zone,
  }),
);
process.exit(0);
