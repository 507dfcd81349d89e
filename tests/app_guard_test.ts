// `luna serve`'s apps defend themselves (src/apps/guard.ts): a request head
// that does not arrive whole in time is answered 408 and closed, however
// slowly its bytes keep coming; an idle keep-alive connection is closed, and
// aborted if still there an idle timeout later; the listener's cap refuses the
// connection past it with a RST. Two stacks on the in-memory link, the app on
// one, polled here with the real clock (the timeouts are short).
import { assert, assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import type { App } from "../src/apps/mod.ts";
import { appLimitDefaults, createApp } from "../src/apps/mod.ts";
import { Deadlines } from "../src/apps/guard.ts";
import { parseArgs, UsageError } from "../src/cli/args.ts";
import { type Connection, createHeapZone, createMemoryLink, createStack, type Stack } from "../src/mod.ts";
import { describe, test } from "./harness.ts";

async function pair(): Promise<[Stack, Stack]> {
  const za = createHeapZone({ name: "a", count: 2048 });
  const zb = createHeapZone({ name: "b", count: 2048 });
  const [la, lb] = createMemoryLink({ zone: za, zoneB: zb });
  const a = await createStack({ device: la, address: "198.18.0.1/24" });
  const b = await createStack({ device: lb, address: "198.18.0.2/24" });
  return [a, b];
}

/** Polls both stacks and ticks the app until `done` (or `ms` pass); `each` runs every round. */
async function until(a: Stack, b: Stack, app: App, done: () => boolean, ms = 10_000, each?: () => void) {
  const end = performance.now() + ms;
  for (let i = 0; !done() && performance.now() < end; i++) {
    a.poll();
    b.poll();
    app.tick(performance.now());
    each?.();
    if ((i & 255) === 255) await new Promise((r) => setImmediate(r));
  }
  return done();
}

/** A client that collects what it receives as text and records how it ended. */
function client(a: Stack, port: number, onOpen?: (c: Connection) => void) {
  const s = {
    text: "",
    ended: false,
    closed: false,
    error: undefined as string | undefined,
    conn: undefined! as Connection,
  };
  const dec = new TextDecoder();
  s.conn = a.connect("198.18.0.2", port, {
    onOpen,
    onData(c) {
      for (let v = c.peek(); v.length > 0; v = c.peek()) {
        s.text += dec.decode(v);
        c.consume(v.length);
      }
    },
    onEnd() {
      s.ended = true;
    },
    onClose(_c, error) {
      s.closed = true;
      s.error = error;
    },
  });
  return s;
}

async function closeAll(a: Stack, b: Stack) {
  await a.close(100);
  await b.close(100);
  assertEquals(a.device.zone.accounting().inUse, 0, "every buffer back (client)");
  assertEquals(b.device.zone.accounting().inUse, 0, "every buffer back (server)");
}

const enc = new TextEncoder();

describe("app guard", () => {
  test("http: a head dribbled a byte at a time past the header timeout gets 408 and a close", async () => {
    const [a, b] = await pair();
    const app = createApp("http", b.device.zone, {
      headerTimeoutMs: 300,
      idleTimeoutMs: 5000,
      maxConnections: 8,
    });
    b.listen(80, (c) => app.accept(c), { maxConnections: app.limits.maxConnections });
    const head = enc.encode("GET /bytes/10 HTTP/1.1\r\nHost: luna\r\nX-Slow: ".padEnd(400, "x"));
    let sent = 0;
    let lastAt = 0;
    const s = client(a, 80);
    const t0 = performance.now();
    // A byte every 20 ms: activity that must not restart the header timeout.
    const dribble = () => {
      const now = performance.now();
      if (s.conn.state === "ESTABLISHED" && sent < head.length && now - lastAt >= 20) {
        sent += s.conn.write(head, sent, 1);
        lastAt = now;
      }
    };
    assert(
      await until(a, b, app, () => s.ended, 10_000, dribble),
      `ended (${s.conn.state}, ${sent} bytes sent)`,
    );
    assert(performance.now() - t0 >= 300, "not before the header timeout");
    assert(sent < head.length, "the head never completed");
    assertStringIncludes(s.text, "HTTP/1.1 408 Request Timeout\r\n");
    assertStringIncludes(s.text, "Connection: close\r\n");
    const st = app.stats();
    assertEquals([st.headerTimeouts, st.idleTimeouts, st.requests], [1, 0, 0]);
    s.conn.close();
    assert(await until(a, b, app, () => s.closed && app.stats().open === 0), "both sides closed");
    await closeAll(a, b);
  });

  test("http: a second head on a kept-alive connection, dribbled past the header timeout, gets 408 too", async () => {
    const [a, b] = await pair();
    const app = createApp("http", b.device.zone, {
      headerTimeoutMs: 300,
      idleTimeoutMs: 5000,
      maxConnections: 8,
    });
    b.listen(80, (c) => app.accept(c), { maxConnections: app.limits.maxConnections });
    const first = enc.encode("GET /bytes/10 HTTP/1.1\r\nHost: luna\r\n\r\n");
    const second = enc.encode("GET /bytes/10 HTTP/1.1\r\nHost: luna\r\nX-Slow: ".padEnd(400, "x"));
    const s = client(a, 80, (c) => c.write(first));
    assert(await until(a, b, app, () => app.stats().responses2xx === 1), "the first request answered");
    let sent = 0;
    let lastAt = 0;
    const t0 = performance.now();
    const dribble = () => {
      const now = performance.now();
      if (s.conn.state === "ESTABLISHED" && sent < second.length && now - lastAt >= 20) {
        sent += s.conn.write(second, sent, 1);
        lastAt = now;
      }
    };
    assert(
      await until(a, b, app, () => s.ended, 10_000, dribble),
      `ended (${s.conn.state}, ${sent} bytes sent)`,
    );
    assert(performance.now() - t0 >= 300, "not before the header timeout");
    assert(sent < second.length, "the head never completed");
    assertStringIncludes(s.text, "HTTP/1.1 408 Request Timeout\r\n");
    const st = app.stats();
    assertEquals([st.headerTimeouts, st.idleTimeouts, st.requests], [1, 0, 1]);
    s.conn.close();
    assert(await until(a, b, app, () => s.closed && app.stats().open === 0), "both sides closed");
    await closeAll(a, b);
  });

  test("http: a kept-alive connection idle past the idle timeout is closed; one that then lingers is aborted", async () => {
    const [a, b] = await pair();
    const app = createApp("http", b.device.zone, {
      headerTimeoutMs: 5000,
      idleTimeoutMs: 400,
      maxConnections: 8,
    });
    b.listen(80, (c) => app.accept(c), { maxConnections: app.limits.maxConnections });
    // Two requests on one connection; then nothing, and it ignores the server's FIN.
    const s = client(a, 80, (c) => c.write(enc.encode("GET /bytes/10 HTTP/1.1\r\nHost: luna\r\n\r\n")));
    assert(await until(a, b, app, () => s.text.endsWith("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09")), s.text);
    s.text = "";
    s.conn.write(enc.encode("GET /bytes/3 HTTP/1.1\r\nHost: luna\r\n\r\n"));
    assert(await until(a, b, app, () => s.text.endsWith("\x00\x01\x02")), s.text);
    const answeredAt = performance.now();
    assert(await until(a, b, app, () => s.ended), `the server closed it (${s.conn.state})`);
    assert(performance.now() - answeredAt >= 400, "not before the idle timeout");
    assertEquals(app.stats().idleTimeouts, 1);
    // Still there an idle timeout later (half-closed, never closing): aborted with a RST.
    assert(await until(a, b, app, () => s.closed), `aborted (${s.conn.state})`);
    assert(s.error !== undefined, "the client saw a reset");
    const st = app.stats();
    assertEquals([st.requests, st.responses2xx, st.headerTimeouts, st.idleTimeouts, st.idleAborts], [
      2,
      2,
      0,
      1,
      1,
    ]);
    assertEquals(st.open, 0);
    await closeAll(a, b);
  });

  test("echo: the connection past --max-connections is refused with a RST; the others are served", async () => {
    const [a, b] = await pair();
    const app = createApp("echo", b.device.zone, { headerTimeoutMs: 0, idleTimeoutMs: 0, maxConnections: 2 });
    b.listen(7, (c) => app.accept(c), { maxConnections: app.limits.maxConnections });
    const first = client(a, 7, (c) => c.write(enc.encode("one")));
    const second = client(a, 7, (c) => c.write(enc.encode("two")));
    assert(await until(a, b, app, () => first.text === "one" && second.text === "two"), "both echoed");
    const third = client(a, 7, (c) => c.write(enc.encode("three")));
    assert(await until(a, b, app, () => third.closed), `refused (${third.conn.state})`);
    assert(third.error !== undefined, "with a reset");
    assertEquals(third.text, "");
    assertEquals(b.stats().tcp.connLimitRefused, 1);
    assertEquals(app.stats().accepted, 2);
    // With the timeouts off, nothing is armed and the two stay until they close.
    first.conn.close();
    second.conn.close();
    assert(await until(a, b, app, () => first.closed && second.closed), "closed");
    assertEquals([app.stats().closed, app.stats().idleTimeouts], [2, 0]);
    await closeAll(a, b);
  });

  test("the command line: --header-timeout, --idle-timeout (seconds) and --max-connections, with defaults", () => {
    const base = ["serve", "http", "--device", "memif:/tmp/x.sock,server", "--address", "198.18.9.1/24"];
    const plain = parseArgs(base);
    assert(plain.kind === "serve");
    assertEquals(plain.options.limits, { ...appLimitDefaults });
    const set = parseArgs([
      ...base,
      "--header-timeout",
      "2.5",
      "--idle-timeout",
      "0",
      "--max-connections",
      "100",
    ]);
    assert(set.kind === "serve");
    assertEquals(set.options.limits, { headerTimeoutMs: 2500, idleTimeoutMs: 0, maxConnections: 100 });
    for (
      const [flag, bad] of [["--header-timeout", "-1"], ["--idle-timeout", "1e3"], ["--max-connections", "0"]]
    ) {
      const e = assertThrows(() => parseArgs([...base, flag, bad]), UsageError);
      assertStringIncludes(e.message, flag);
    }
  });

  test("deadlines kept at slots the connections hold expire as those in a map do: rearmed, disarmed, expiring while others are moved", () => {
    type K = { name: string; slot: number };
    const run = (withSlots: boolean) => {
      const expired: string[] = [];
      const ks = Array.from({ length: 40 }, (_, i): K => ({ name: `c${i}`, slot: -1 }));
      const d: Deadlines<K> = new Deadlines<K>((k) => {
        expired.push(k.name);
        // An expiry that moves the others (one far off is disarmed) and rearms itself, as the guard's do.
        d.disarm(ks[36 + (Number(k.name.slice(1)) & 3)]);
        if (k.name === "c3") d.arm(k, 500);
      }, withSlots ? { get: (k) => k.slot, set: (k, i) => void (k.slot = i) } : undefined);
      d.tick(0);
      ks.forEach((k, i) => d.arm(k, i < 36 ? 100 + (i % 5) * 100 : 10_000));
      for (let i = 0; i < ks.length; i += 3) d.arm(ks[i], 1000); // rearmed later
      for (let i = 1; i < ks.length; i += 4) d.disarm(ks[i]);
      d.arm(ks[2], 0); // 0: off
      const log: string[][] = [];
      for (let t = 50; t <= 1600; t += 50) {
        d.tick(t);
        log.push(expired.splice(0).sort());
      }
      d.tick(10_000);
      log.push(expired.splice(0).sort());
      return { log, size: d.size };
    };
    const map = run(false);
    const slots = run(true);
    assertEquals(slots, map);
    assertEquals(slots.size, 1, "every deadline went but c3's, which rearms itself as it expires");
    assert(slots.log.flat().length > 10);
  });
});
