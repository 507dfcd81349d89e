// Goodput under loss on the in-memory link: 20 MB one way over a 50 Mbit/s
// link with 1 ms round trips and 1% of data segments lost, on the virtual
// clock. CUBIC with SACK (the defaults) must reach 70% of the link's rate;
// NewReno's figure is reported beside it.
import { assertEquals, assertGreaterOrEqual } from "@std/assert";
import type { TcpConfig } from "../src/tcp/config.ts";
import { describe, test } from "./harness.ts";
import { addrB } from "./sim.ts";
import { Endpoint, tcpHosts } from "./tcp_sim.ts";

const bandwidthBps = 50e6;
const bytes = 20 << 20;

function goodput(tcp: Partial<TcpConfig>): { share: number; retransTimeouts: number } {
  const { ta, tb, clock } = tcpHosts({ seed: 9, faultsAtoB: { loss: 0.01 }, bandwidthBps, delayMs: 0.5, buffers: 8192, tcp });
  const client = new Endpoint(ta, clock, bytes, 1);
  const server = new Endpoint(tb, clock, 0, 2);
  tb.listen(80, () => server.handlers());
  ta.connect(addrB, 80, client.handlers(), clock.now);
  clock.runUntil(() => server.ended, 600_000);
  assertEquals(server.recvDigest, client.sendDigest, "every byte arrived");
  const share = (bytes * 8) / (clock.now / 1000) / bandwidthBps;
  return { share, retransTimeouts: client.conn!.stats.retransTimeouts };
}

describe("tcp goodput", () => {
  test("CUBIC with SACK reaches at least 70% of the link under 1% loss (RFC 9438, RFC 6675)", () => {
    const cubic = goodput({ congestion: "cubic" });
    const newreno = goodput({ congestion: "newreno" });
    const cubicNoSack = goodput({ congestion: "cubic", sack: false });
    console.log(
      `goodput at 1% loss, 50 Mbit/s: cubic ${(cubic.share * 100).toFixed(1)}% ` +
        `(${cubic.retransTimeouts} timeouts), newreno ${(newreno.share * 100).toFixed(1)}%, ` +
        `cubic without SACK ${(cubicNoSack.share * 100).toFixed(1)}%`,
    );
    assertGreaterOrEqual(cubic.share, 0.7);
  }, { timeoutMs: 300_000 });
});
