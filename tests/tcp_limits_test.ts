// Connection limits: a stack's and a listener's most connections. SYNs
// beyond them are refused with a RST and counted; an active open beyond the
// stack's throws, naming the setting.
import { assert, assertEquals, assertInstanceOf, assertThrows } from "@std/assert";
import { ConfigError } from "../src/errors.ts";
import { parseStackConfig } from "../src/mod.ts";
import type { Tcb } from "../src/tcp/tcb.ts";
import type { TcpLayer } from "../src/tcp/tcp_layer.ts";
import { describe, test } from "./harness.ts";
import { addrB, type Clock } from "./sim.ts";
import { tcpHosts } from "./tcp_sim.ts";

/** Opens `n` connections from `ta` to `port`; returns how each ended up: "open" or its close reason. */
function open(ta: TcpLayer, clock: Clock, port: number, n: number): { outcome: string[]; conns: Tcb[] } {
  const outcome: string[] = new Array(n).fill("pending");
  const conns: Tcb[] = [];
  for (let i = 0; i < n; i++) {
    conns.push(ta.connect(addrB, port, {
      onOpen: () => (outcome[i] = "open"),
      onClose: (_c, e) => (outcome[i] = e ?? "closed"),
    }, clock.now));
  }
  clock.runUntil(() => outcome.every((o) => o !== "pending"), 10_000);
  return { outcome, conns };
}

describe("tcp connection limits", () => {
  test("the stack's limit: SYNs beyond tcp.maxConnections are refused with a RST and counted; room returns as connections go", () => {
    const { ta, tb, clock } = tcpHosts({ tcpB: { maxConnections: 3 } });
    tb.listen(80, () => ({}));
    const { outcome, conns } = open(ta, clock, 80, 5);
    assertEquals(outcome.filter((o) => o === "open").length, 3);
    assertEquals(outcome.filter((o) => o === "connection refused").length, 2);
    assertEquals(tb.counters.connLimitRefused, 2);
    assertEquals([...tb.each()].length, 3);
    ta.abort(conns[outcome.indexOf("open")], clock.now);
    clock.runUntil(() => [...tb.each()].length === 2, 1000);
    assertEquals(open(ta, clock, 80, 1).outcome, ["open"]);
  });

  test("a listener's limit counts its own connections only", () => {
    const { ta, tb, clock } = tcpHosts();
    tb.listen(80, () => ({}), undefined, undefined, 2);
    tb.listen(81, () => ({}));
    const a = open(ta, clock, 80, 3).outcome;
    assertEquals(a.filter((o) => o === "open").length, 2);
    assertEquals(a.filter((o) => o === "connection refused").length, 1);
    assertEquals(open(ta, clock, 81, 3).outcome, ["open", "open", "open"]);
    assertEquals(tb.counters.connLimitRefused, 1);
    assertThrows(() => tb.listen(82, () => ({}), undefined, undefined, 0), ConfigError, "maxConnections");
  });

  test("an active open beyond the stack's limit throws, naming tcp.maxConnections", () => {
    const { ta, tb, clock } = tcpHosts({ tcp: { maxConnections: 2 } });
    tb.listen(80, () => ({}));
    assertEquals(open(ta, clock, 80, 2).outcome, ["open", "open"]);
    const e = assertThrows(() => ta.connect(addrB, 80, {}, clock.now), ConfigError);
    assertEquals(e.field, "tcp.maxConnections");
  });

  test("tcp.maxConnections is checked as configuration", () => {
    for (const bad of [0, -1, 1.5, "10"]) {
      try {
        parseStackConfig({
          device: "memif:/tmp/x.sock,server",
          address: "198.18.0.2/24",
          tcp: { maxConnections: bad },
        });
        throw new Error(`accepted ${bad}`);
      } catch (err) {
        assertInstanceOf(err, ConfigError);
        assertEquals(err.field, "tcp.maxConnections");
      }
    }
    assert(
      parseStackConfig({
        device: "memif:/tmp/x.sock,server",
        address: "198.18.0.2/24",
        tcp: { maxConnections: 10 },
      }),
    );
  });
});
