// Active opens when the ephemeral ports are held by TIME-WAIT.
import { assertEquals, assertThrows } from "@std/assert";
import { ConfigError } from "../src/errors.ts";
import { stateName } from "../src/tcp/state.ts";
import type { Tcb } from "../src/tcp/tcb.ts";
import { describe, test } from "./harness.ts";
import { addrB } from "./sim.ts";
import { tcpHosts } from "./tcp_sim.ts";

function openAndClose(ta: ReturnType<typeof tcpHosts>["ta"], clock: ReturnType<typeof tcpHosts>["clock"]): Tcb {
  let closed = false;
  const c = ta.connect(addrB, 80, {
    onOpen: (t) => ta.close(t, clock.now),
    onClose: () => (closed = true),
  }, clock.now);
  clock.runUntil(() => closed, 10_000);
  return c;
}

describe("tcp ephemeral ports", () => {
  test("with timestamps, a port held by TIME-WAIT for over a second serves a new connection (Linux tcp_tw_reuse, RFC 6191)", () => {
    const { ta, tb, clock } = tcpHosts({ tcp: { ephemeralPortMin: 50000, ephemeralPortMax: 50001 } });
    tb.listen(80, () => ({ onEnd: (c) => tb.close(c, clock.now) }));
    const first = openAndClose(ta, clock);
    const second = openAndClose(ta, clock);
    assertEquals([first, second].map((t) => stateName(ta.stateOf(t.remoteIp, t.remotePort, t.localPort)!)), [
      "TIME-WAIT",
      "TIME-WAIT",
    ]);
    assertEquals(ta.timeWaitCount, 2);
    clock.run(1500);
    const third = openAndClose(ta, clock);
    assertEquals(third.localPort, first.localPort);
    assertEquals(ta.counters.timeWaitReused, 1);
    assertEquals(second.localPort !== first.localPort, true);
  });

  test("without timestamps, TIME-WAIT holds its port for 2 MSL and a connect finds none free", () => {
    const { ta, tb, clock } = tcpHosts({ tcp: { ephemeralPortMin: 50000, ephemeralPortMax: 50001, timestamps: false } });
    tb.listen(80, () => ({ onEnd: (c) => tb.close(c, clock.now) }));
    openAndClose(ta, clock);
    openAndClose(ta, clock);
    clock.run(1500);
    assertThrows(() => ta.connect(addrB, 80, {}, clock.now), ConfigError, "no ephemeral port is free");
  });
});
