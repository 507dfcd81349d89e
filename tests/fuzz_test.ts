// The receive path under a structure-aware fuzzer (tests/fuzz.ts): valid
// Ethernet/IPv4/TCP, ICMP, UDP and ARP frames, some aimed at a live
// connection, then mutated; fed to a stack on the in-memory link with an echo
// server and a live connection. Nothing may throw, every frame is counted by
// its outcome, and afterwards a new connection's echo is byte-exact and every
// buffer comes back. 1,000,000 frames per run; FUZZ_FRAMES=10000000 (and FUZZ_SEED) on demand.
// Inputs that once crashed the stack live in tests/fuzz_corpus/ and are fed
// again on every run.
import { assert, assertEquals } from "@std/assert";
import { readdirSync, readFileSync } from "node:fs";
import { DESC_WORDS } from "../src/device/mod.ts";
import type { TcpLayer } from "../src/tcp/tcp_layer.ts";
import { corpusDir, fuzzPort, fuzzRun } from "./fuzz.ts";
import { describe, test } from "./harness.ts";
import { addrB, type Clock, type Host } from "./sim.ts";
import { tcpHosts } from "./tcp_sim.ts";

// 1,000,000 frames: 3-5 s per runtime on a quiet 2-core machine, up to about 30 s on a busy one.
const frames = Number(process.env.FUZZ_FRAMES ?? 1_000_000);
const seed = Number(process.env.FUZZ_SEED ?? 1);

/** Two hosts; b runs an echo server on {@link fuzzPort}, and a holds a connection to it. */
function target() {
  const h = tcpHosts({ buffers: 8192, seed });
  const { ta, tb, clock } = h;
  const buf = new Uint8Array(65536);
  tb.listen(fuzzPort, () => ({
    onData(c) {
      for (let n = tb.read(c, buf, clock.now); n > 0; n = tb.read(c, buf, clock.now)) {
        tb.write(c, buf, clock.now, 0, n);
      }
    },
    onEnd(c) {
      tb.close(c, clock.now);
    },
  }));
  const sink = new Uint8Array(65536);
  const live = ta.connect(addrB, fuzzPort, {
    onData(c) {
      while (ta.read(c, sink, clock.now) > 0);
    },
  }, clock.now);
  assert(clock.runUntil(() => live.state === 4 /* ESTABLISHED */ && [...tb.each()].length === 1, 5000));
  const liveB = [...tb.each()][0];
  return { ...h, liveB: () => (liveB.dead ? undefined : liveB) };
}

/** After the run: the stack still serves, and once everything is closed, every buffer is back. */
function stillWorks(a: Host, b: Host, ta: TcpLayer, tb: TcpLayer, clock: Clock, what: string) {
  const c = b.ip.counters;
  assertEquals(
    c.accountedRxFrames(),
    c.linkRxFrames,
    `${what}: every received frame is counted by its outcome`,
  );
  const sent = new Uint8Array(100_000).map((_, i) => (i * 13 + 5) & 0xff);
  const got: number[] = [];
  const buf = new Uint8Array(65536);
  const conn = ta.connect(addrB, fuzzPort, {
    onOpen(t) {
      assertEquals(ta.write(t, sent, clock.now), sent.length, "the send buffer takes the 100 KB at once");
    },
    onData(t) {
      for (let n = ta.read(t, buf, clock.now); n > 0; n = ta.read(t, buf, clock.now)) {
        for (let i = 0; i < n; i++) got.push(buf[i]);
      }
    },
  }, clock.now);
  assert(
    clock.runUntil(() => got.length >= sent.length, 60_000),
    `${what}: echoed ${got.length} of ${sent.length}`,
  );
  assertEquals(new Uint8Array(got), sent, `${what}: the echo is byte-exact`);
  ta.close(conn, clock.now);
  // Whatever the frames left open (half-open connections, TIME-WAIT) ends in time.
  for (const t of [...ta.each()]) if (t !== conn) ta.abort(t, clock.now);
  clock.run(10_000);
  for (const t of [...tb.each()]) tb.abort(t, clock.now);
  for (const t of [...ta.each()]) ta.abort(t, clock.now);
  clock.run(400_000);
  assertEquals([...tb.each()].length, 0, `${what}: no connection left`);
  assertEquals(b.zone.accounting().inUse, 0, `${what}: every buffer of the target is back`);
  assertEquals(a.zone.accounting().inUse, 0, `${what}: every buffer of the peer is back`);
}

function feed(target: Host, clock: Clock, frames: Uint8Array[]) {
  const zone = target.zone;
  const descs = new Uint32Array(DESC_WORDS);
  for (const f of frames) {
    const h = zone.tryTake();
    assert(h >= 0, "a buffer for the frame");
    zone.bytes.set(f, zone.dataStart(h) + zone.headroom);
    descs[0] = h;
    descs[1] = zone.headroom | (f.length << 16);
    descs[2] = 0;
    descs[3] = 0;
    target.ip.receive(descs, 1, clock.now);
    for (const host of clock.hosts) host.step(clock.now);
    clock.now += 0.05;
  }
}

describe("receive-path fuzzer", () => {
  test(
    `${frames} fuzzed frames (seed ${seed}): nothing throws, each is counted; then an echo works, every buffer back`,
    () => {
      const { a, b, ta, tb, clock, liveB } = target();
      const t0 = performance.now();
      const r = fuzzRun(seed, frames, { sender: a, target: b, clock, targetTcp: tb }, liveB);
      const ms = performance.now() - t0;
      console.log(
        `fuzz: ${frames} frames in ${(ms / 1000).toFixed(1)} s (${Math.round(frames / (ms / 1000))}/s)`,
      );
      assertEquals(r.skipped, 0, "the target always had a buffer for the next frame");
      assert(b.ip.counters.tcpInSegs > frames / 4, `TCP saw ${b.ip.counters.tcpInSegs} segments`);
      stillWorks(a, b, ta, tb, clock, `seed ${seed}`);
    },
    { timeoutMs: 600_000 },
  );

  test("the corpus: every saved input is fed again; the stack still works", () => {
    const files = readdirSync(corpusDir).filter((f) => f.endsWith(".json")).sort();
    assert(files.length > 0, `inputs in ${corpusDir}`);
    for (const file of files) {
      const { frames: hex } = JSON.parse(readFileSync(corpusDir + file, "utf8")) as { frames: string[] };
      const { a, b, ta, tb, clock } = target();
      feed(b, clock, hex.map((h) => Uint8Array.from(h.match(/../g)!, (x) => parseInt(x, 16))));
      stillWorks(a, b, ta, tb, clock, file);
    }
  });
});
