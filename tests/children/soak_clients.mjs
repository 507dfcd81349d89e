// Soak clients on the kernel's TCP (node:net, run by /usr/bin/node): for SECONDS, CONCURRENT
// connections at a time to an echo server, a new one starting as each ends, of three shapes:
// churn (up to 600 bytes; one in five reset by the client once half of the echo is back), echo
// (up to 64 KB) and bulk (256 KB to 2.25 MB). Each client sends its bytes of a seeded stream,
// half-closes, and checks by SHA-256 that exactly those bytes came back, then waits for the
// server's FIN and a close without error.
//   node soak_clients.mjs HOST PORT SECONDS CONCURRENT SEED
// Prints RESULT {json}: transfers verified by shape, resets made on purpose, bytes, the first
// failures; exits 0 when every transfer not reset on purpose was verified, 1 otherwise.
import { createHash } from "node:crypto";
import net from "node:net";

const [host, portArg, secondsArg, concurrentArg, seedArg] = process.argv.slice(2);
const port = Number(portArg);
const seconds = Number(secondsArg);
const concurrent = Number(concurrentArg);
let seed = Number(seedArg) >>> 0 || 1;
if (!host || !(port > 0) || !(seconds > 0) || !(concurrent > 0)) {
  console.error("usage: soak_clients.mjs HOST PORT SECONDS CONCURRENT SEED");
  process.exit(2);
}
/** A transfer that neither finishes nor fails within this long is a failure. */
const transferTimeoutMs = 120_000;

/** xorshift32: reproducible shapes and payloads from SEED. */
function rnd() {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed;
}

// Payloads are windows of one random pool: each transfer starts at its own offset.
const poolBytes = 4 << 20;
const pool = Buffer.alloc(poolBytes);
for (let i = 0; i < poolBytes; i += 4) pool.writeUInt32LE(rnd(), i);

const done = { churn: 0, echo: 0, bulk: 0, reset: 0, bytes: 0 };
const failures = [];
let failed = 0;
let open = 0;
let started = 0;
const end = Date.now() + seconds * 1000;
let finish;
const finished = new Promise((r) => (finish = r));

function startOne() {
  const k = rnd() % 10;
  const shape = k < 4 ? "churn" : k < 8 ? "echo" : "bulk";
  const bytes = shape === "churn"
    ? 1 + (rnd() % 600)
    : shape === "echo"
    ? 1 + (rnd() % 65536)
    : 262_144 + (rnd() % (2 << 20));
  const resetAt = shape === "churn" && bytes > 100 && rnd() % 5 === 0 ? bytes >> 1 : -1;
  const from = rnd() % (poolBytes - bytes);
  const data = pool.subarray(from, from + bytes);
  const want = createHash("sha256").update(data).digest("hex");
  const got = createHash("sha256");
  let received = 0;
  let settled = false;
  const id = started++;
  open++;
  const what = `#${id} ${shape} ${bytes} bytes`;
  const settle = (error) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    open--;
    if (error !== undefined) {
      failed++;
      if (failures.length < 10) failures.push(`${what}: ${error}`);
    }
    next();
  };
  const timer = setTimeout(() => {
    s.destroy();
    settle(`no end in ${transferTimeoutMs} ms (${received} bytes back)`);
  }, transferTimeoutMs);
  const s = net.connect({ host, port }, () => s.end(data));
  s.on("data", (d) => {
    if (settled) return;
    received += d.length;
    if (received > bytes) {
      s.destroy();
      settle(`${received} bytes back, more than sent`);
      return;
    }
    got.update(d);
    if (resetAt >= 0 && received >= resetAt) {
      // A client that gives up halfway: RST, and the server must clean up after it.
      s.resetAndDestroy();
      done.reset++;
      settle(undefined);
    }
  });
  s.on("error", (e) => settle(`${e.code ?? e.message} after ${received} bytes back`));
  s.on("close", (hadError) => {
    if (settled) return;
    if (hadError) return settle(`closed with an error after ${received} bytes back`);
    if (received !== bytes) return settle(`${received} bytes back, ${bytes} sent`);
    const digest = got.digest("hex");
    if (digest !== want) return settle(`SHA-256 of the echo differs`);
    done[shape]++;
    done.bytes += 2 * bytes;
    settle(undefined);
  });
}

function next() {
  while (Date.now() < end && open < concurrent) startOne();
  if (open === 0 && Date.now() >= end) finish();
}

const t0 = performance.now();
next();
// The run ends when the last transfer does; the deadline check also runs when nothing ends.
const tick = setInterval(next, 50);
await finished;
clearInterval(tick);
const result = {
  ...done,
  verified: done.churn + done.echo + done.bulk,
  started,
  failed,
  failures,
  seconds: (performance.now() - t0) / 1000,
};
console.log(`RESULT ${JSON.stringify(result)}`);
process.exit(failed === 0 ? 0 : 1);
