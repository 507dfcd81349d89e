// Many concurrent echo clients on the kernel's TCP, written with node:net (run by /usr/bin/node),
// all in this one process. Each client sends BYTES bytes of its own random stream, half-closes,
// checks every byte that comes back, and waits for the server's FIN and a close without error.
//   node interop_node_clients.mjs HOST PORT CLIENTS BYTES [TIMEOUT_MS]
// Prints RESULT {json}: how many finished cleanly, the first few failures, the byte counts and
// the wall time; exits 0 when every client finished cleanly, 1 otherwise.
import { randomBytes } from "node:crypto";
import net from "node:net";

const [host, portArg, clientsArg, bytesArg, timeoutArg] = process.argv.slice(2);
const port = Number(portArg);
const clients = Number(clientsArg);
const bytes = Number(bytesArg);
const timeoutMs = Number(timeoutArg ?? 60_000);
if (!host || !(port > 0) || !(clients > 0) || !(bytes > 0)) {
  console.error("usage: interop_node_clients.mjs HOST PORT CLIENTS BYTES [TIMEOUT_MS]");
  process.exit(2);
}

// Client i sends pool[i * 61, i * 61 + bytes): a stream of its own (a byte that crossed to another
// connection would not match), without a copy per client.
const shift = 61;
const pool = randomBytes(bytes + shift * clients);
const t0 = performance.now();

/** @type {{ id: number, got: number, firstBad: number, connected: boolean, ended: boolean, closed: boolean, error?: string, seconds?: number }[]} */
const state = [];
let finished = 0;

function firstDifference(a, b) {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

function report(timedOut) {
  const seconds = (performance.now() - t0) / 1000;
  const bad = state.filter((c) =>
    !(c.closed && c.ended && c.error === undefined && c.got === bytes && c.firstBad < 0)
  );
  const got = state.reduce((n, c) => n + c.got, 0);
  const result = {
    clients,
    bytes,
    ok: clients - bad.length,
    failed: bad.length,
    timedOut,
    firstFailures: bad.slice(0, 5),
    gotTotal: got,
    seconds,
    slowestClientSeconds: Math.max(0, ...state.map((c) => c.seconds ?? 0)),
  };
  console.log("RESULT " + JSON.stringify(result));
  process.exit(bad.length === 0 && !timedOut ? 0 : 1);
}

const timer = setTimeout(() => report(true), timeoutMs);

for (let id = 0; id < clients; id++) {
  const data = pool.subarray(id * shift, id * shift + bytes);
  const c = { id, got: 0, firstBad: -1, connected: false, ended: false, closed: false };
  state.push(c);
  const s = net.connect({ host, port });
  s.on("connect", () => {
    c.connected = true;
    s.end(data);
  });
  s.on("data", (chunk) => {
    if (c.firstBad < 0) {
      const want = data.subarray(c.got, c.got + chunk.length);
      if (chunk.length > want.length || !chunk.equals(want)) {
        const d = firstDifference(chunk, want);
        c.firstBad = c.got + (d < 0 ? want.length : d);
      }
    }
    c.got += chunk.length;
  });
  s.on("end", () => {
    c.ended = true;
  });
  s.on("error", (e) => {
    c.error = String(e);
  });
  s.on("close", (hadError) => {
    c.closed = true;
    if (hadError && c.error === undefined) c.error = "closed with an error";
    c.seconds = (performance.now() - t0) / 1000;
    if (++finished === clients) {
      clearTimeout(timer);
      report(false);
    }
  });
}
