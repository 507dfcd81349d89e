/** SYN cookies: the ISN carries MSS, time counter and a MAC; TSval carries the options. */
import { describe, test } from "./harness.ts";
import { assert, assertEquals } from "@std/assert";
import { mssIndex, synCookieMssTable, type SynCookieOptions, SynCookies } from "../src/tcp/syn_cookie.ts";

const key = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
const local = 0xc6120001;
const remote = 0xc6120002;

function ackFor(cookies: SynCookies, clientIsn: number, iss: number, now: number, ts = false, tsecr = 0) {
  return cookies.check(local, 80, remote, 40000, (clientIsn + 1) >>> 0, (iss + 1) >>> 0, now, ts, tsecr);
}

describe("tcp syn cookie", () => {
  test("a cookie checks on the final ACK (ack - 1) and gives back the MSS", () => {
    const cookies = new SynCookies(key);
    const iss = cookies.isn(local, 80, remote, 40000, 777, 1460, 5000);
    const got = ackFor(cookies, 777, iss, 5001);
    assert(got !== "invalid");
    assertEquals([got.mss, got.windowScale, got.sackPermitted, got.ecn, got.timestamps], [
      1460,
      -1,
      false,
      false,
      false,
    ]);
  });

  test("client ISNs and cookies near 2^32 wrap correctly", () => {
    const cookies = new SynCookies(key);
    for (const clientIsn of [0xffff_ffff, 0xffff_fffe, 0]) {
      const iss = cookies.isn(local, 80, remote, 40000, clientIsn, 1460, 0);
      assert(ackFor(cookies, clientIsn, iss, 10) !== "invalid", `client ISN ${clientIsn}`);
    }
    // An ACK of 0 names the cookie 0xffffffff: checked like any other (and not one we made).
    assertEquals(cookies.check(local, 80, remote, 40000, 1, 0, 0, false, 0), "invalid");
  });

  test("the MSS is rounded down to a table entry (3 bits)", () => {
    assertEquals(synCookieMssTable.length, 8);
    assertEquals(mssIndex(100), 0);
    assertEquals(mssIndex(536), 0);
    assertEquals(mssIndex(1459), 5);
    assertEquals(mssIndex(1460), 6);
    assertEquals(mssIndex(9000), 7);
    const cookies = new SynCookies(key);
    for (const [mss, want] of [[536, 536], [1400, 1380], [1460, 1460], [65495, 8960], [200, 536]]) {
      const iss = cookies.isn(local, 80, remote, 40000, 1, mss, 0);
      const got = ackFor(cookies, 1, iss, 0);
      assert(got !== "invalid");
      assertEquals(got.mss, want, `MSS ${mss}`);
    }
  });

  test("cookies of the current and the previous 64 s counter are accepted, older ones not", () => {
    const cookies = new SynCookies(key);
    const made = 64_000 * 10 + 63_999; // the last moment of counter 10
    const iss = cookies.isn(local, 80, remote, 40000, 42, 1460, made);
    assert(ackFor(cookies, 42, iss, made) !== "invalid");
    assert(ackFor(cookies, 42, iss, 64_000 * 11) !== "invalid");
    assert(ackFor(cookies, 42, iss, 64_000 * 12 - 1) !== "invalid");
    assertEquals(ackFor(cookies, 42, iss, 64_000 * 12), "invalid");
    // A cookie from the future (the clock stepped back) is not accepted either.
    assertEquals(ackFor(cookies, 42, iss, 64_000 * 10 - 1), "invalid");
  });

  test("a wrong ACK number, client ISN, 4-tuple or key makes the cookie invalid", () => {
    const cookies = new SynCookies(key);
    const iss = cookies.isn(local, 80, remote, 40000, 1000, 1460, 0);
    assertEquals(ackFor(cookies, 1000, (iss + 1) >>> 0, 0), "invalid");
    assertEquals(ackFor(cookies, 1001, iss, 0), "invalid");
    assertEquals(cookies.check(local, 80, remote, 40001, 1001, (iss + 1) >>> 0, 0, false, 0), "invalid");
    assertEquals(cookies.check(local, 80, remote + 1, 40000, 1001, (iss + 1) >>> 0, 0, false, 0), "invalid");
    const other = new SynCookies(Uint8Array.from({ length: 16 }, (_, i) => i));
    assertEquals(ackFor(other, 1000, iss, 0), "invalid");
  });

  test("blind guesses almost never pass (24-bit MAC)", () => {
    const cookies = new SynCookies(key);
    let passed = 0;
    for (let i = 0; i < 100_000; i++) {
      const guess = Math.imul(i, 0x9e3779b1) >>> 0;
      if (cookies.check(local, 80, remote, 40000, 5, guess, 0, false, 0) !== "invalid") passed++;
    }
    // Each guess passes with probability about 2^-24 (a MAC match in the one counter whose bits fit).
    assert(passed <= 3, `${passed} blind guesses passed`);
  });

  test("RFC 7323: window scale, SACK-permitted and ECN ride in the low 6 bits of TSval", () => {
    const cookies = new SynCookies(key);
    const iss = cookies.isn(local, 80, remote, 40000, 9, 1460, 0);
    const tsNow = 0x1234_5678;
    const tsval = cookies.tsval(tsNow, 7, true, true);
    assertEquals(tsval & 0x3f, 7 | 16 | 32);
    assert(((tsval - tsNow) | 0) <= 0 && ((tsNow - tsval) | 0) < 64, "TSval is never ahead of the clock");
    const got = ackFor(cookies, 9, iss, 0, true, tsval);
    assert(got !== "invalid");
    assertEquals([got.windowScale, got.sackPermitted, got.ecn, got.timestamps], [7, true, true, true]);
    const noWs = cookies.tsval(tsNow, -1, false, false);
    const got2 = ackFor(cookies, 9, iss, 0, true, noWs) as SynCookieOptions;
    assertEquals([got2.windowScale, got2.sackPermitted, got2.ecn], [-1, false, false]);
  });

  test("the TSval never runs ahead of the clock, also across the 2^32 wrap", () => {
    const cookies = new SynCookies(key);
    for (const tsNow of [0, 5, 63, 64, 0xffff_ffff, 0xffff_ffc0, 100_000]) {
      for (const ws of [-1, 0, 14]) {
        const ts = cookies.tsval(tsNow, ws, true, false);
        const behind = (tsNow - ts) | 0;
        assert(behind >= 0 && behind < 64, `tsNow ${tsNow} ws ${ws}: TSval ${ts}`);
        assertEquals(ts & 0xf, ws < 0 ? 15 : ws);
      }
    }
  });
});
