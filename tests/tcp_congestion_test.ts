/** The congestion control interface, the factory, and the initial windows. */
import { describe, test } from "./harness.ts";
import { assertEquals, assertThrows } from "@std/assert";
import {
  CcAction,
  createCongestionControl,
  initialWindowBytes,
  ssthreshInfiniteBytes,
} from "../src/tcp/congestion.ts";
import { Cubic } from "../src/tcp/cubic.ts";
import { NewReno } from "../src/tcp/newreno.ts";

describe("tcp congestion", () => {
  test("the factory makes controllers by name", () => {
    const a = createCongestionControl("newreno", 1460);
    const b = createCongestionControl("cubic", 1460, { fastConvergence: false });
    assertEquals([a.name, b.name], ["newreno", "cubic"]);
    assertEquals(a instanceof NewReno, true);
    assertEquals(b instanceof Cubic && !b.fastConvergence, true);
    assertEquals(createCongestionControl("bbr", 1460).name, "bbr");
    assertThrows(() => createCongestionControl("vegas" as "cubic", 1460), RangeError);
  });

  test("RFC 6928 (2): the initial window is min(10*MSS, max(2*MSS, 14600)), the default", () => {
    assertEquals(initialWindowBytes(1460), 14600);
    assertEquals(initialWindowBytes(536), 5360);
    assertEquals(initialWindowBytes(1460 * 2), 14600);
    assertEquals(initialWindowBytes(8960), 17920);
    assertEquals(createCongestionControl("cubic", 1460).cwnd, 14600);
  });

  test("RFC 5681 (3.1): the older initial window is 2, 3 or 4 segments by SMSS", () => {
    assertEquals(initialWindowBytes(2191, "rfc5681"), 4382);
    assertEquals(initialWindowBytes(2190, "rfc5681"), 6570);
    assertEquals(initialWindowBytes(1460, "rfc5681"), 4380);
    assertEquals(initialWindowBytes(1095, "rfc5681"), 4380);
    assertEquals(initialWindowBytes(536, "rfc5681"), 2144);
    assertEquals(createCongestionControl("newreno", 1460, { initialWindow: "rfc5681" }).cwnd, 4380);
    assertEquals(createCongestionControl("newreno", 1460, { initialWindow: 3000 }).cwnd, 3000);
  });

  test("RFC 5681 (3.1): ssthresh starts arbitrarily high, or as configured", () => {
    assertEquals(createCongestionControl("newreno", 1000).ssthresh, ssthreshInfiniteBytes);
    assertEquals(createCongestionControl("cubic", 1000, { initialSsthresh: 64000 }).ssthresh, 64000);
  });

  test("both controllers drive the same recovery protocol through the interface", () => {
    for (const name of ["newreno", "cubic"] as const) {
      const cc = createCongestionControl(name, 1000, { initialWindow: 10_000 });
      const una = 0xffff_fc00; // 1024 below the wrap
      const nxt = (una + 10_000) >>> 0;
      assertEquals(cc.onDupAck(una, 10_000, nxt, 1), CcAction.none);
      assertEquals(cc.onDupAck(una, 10_000, nxt, 2), CcAction.none);
      assertEquals(cc.onDupAck(una, 10_000, nxt, 3), CcAction.retransmit | CcAction.enteredRecovery, name);
      assertEquals([cc.inRecovery, cc.recover], [true, nxt]);
      const full = cc.onAck(nxt, 10_000, 0, 4, 50);
      assertEquals(full, CcAction.exitedRecovery, name);
      assertEquals(cc.inRecovery, false);
    }
  });

  test("setMss changes the segment size, not the window", () => {
    const cc = createCongestionControl("newreno", 1460);
    cc.setMss(1400);
    assertEquals([cc.mss, cc.cwnd], [1400, 14600]);
  });
});
