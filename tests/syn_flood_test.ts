// A SYN flood against luna serve's http app while transfers run (correctness
// only; the goodput ratio is a timing and belongs in bench/): a bounded
// generator on the kernel's side sends SYNs from many ports whose SYN-ACKs it
// then drops, so the listener's backlog fills and cookies answer the rest.
// The state held stays bounded by the backlog, connections made during the
// flood complete through cookies with window scaling, SACK and timestamps
// intact (Linux-style, in the TSval), and an 8 MB download made under the
// flood is byte-exact.
import { assert, assertEquals } from "@std/assert";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { patternSha256 } from "../src/apps/pattern.ts";
import { dropFloodAnswersArgs, parseSynFloodResult, synFloodArgs } from "../src/lab/syn_flood.ts";
import { tcpDefaults } from "../src/tcp/config.ts";
import { Child, explain, removeEalFiles, tempDir, uniquePrefix } from "./child.ts";
import { describe, test } from "./harness.ts";
import { interopLab, sh } from "./lab_peers.ts";

/** SYNs the generator (src/lab/syn_flood.c) sends, from random ports of 20000..29999, as fast as it can. */
const floodCount = 60_000;

describe("SYN flood", () => {
  test(
    "under a SYN flood: state bounded by the backlog, cookies carry the options, an 8 MB download intact",
    async () => {
      const lab = interopLab();
      const dir = tempDir("synflood");
      const prefix = uniquePrefix("synflood");
      const stopServer = join(dir, "stop-server");
      const stopFlood = join(dir, "stop-flood");
      let child: Child | undefined;
      try {
        // The flood's SYN-ACKs go nowhere: the half-open connections stay, the backlog fills.
        lab.exec("kernel", "iptables", dropFloodAnswersArgs(80));
        child = new Child("syn_flood_server.ts", [lab.luna.iface, lab.luna.cidr, prefix, stopServer], {
          wrap: lab.wrap("luna"),
          timeoutMs: 150_000,
        });
        await child.waitFor(/^READY$/, 30_000);
        const mac = lab.exec("luna", "cat", [`/sys/class/net/${lab.luna.iface}/address`]).trim();
        const floodArgs = synFloodArgs({
          iface: lab.kernel.iface,
          dstMac: mac,
          srcIp: lab.kernel.ip,
          dstIp: lab.luna.ip,
          dstPort: 80,
          count: floodCount,
          rate: 0,
          seconds: 60,
          stopFile: stopFlood,
        });
        const flood = sh(lab, "kernel", floodArgs.join(" "), { timeoutMs: 90_000 });
        await child.waitFor(/^COOKIES$/, 30_000);
        // An 8 MB download while the flood goes on; then three new connections, one after the
        // other (the flood's half-open connections still fill the backlog: cookies answer them).
        const n = 8_000_000;
        const t0 = performance.now();
        const big = await sh(
          lab,
          "kernel",
          `curl -sS --fail -m 60 http://${lab.luna.ip}/bytes/${n} | sha256sum`,
          {
            timeoutMs: 70_000,
          },
        );
        const { sent } = parseSynFloodResult((await flood).stdout);
        const bigMs = performance.now() - t0;
        for (let i = 0; i < 3; i++) {
          const r = await sh(lab, "kernel", `curl -sS --fail -m 20 http://${lab.luna.ip}/bytes/1000 | wc -c`);
          assertEquals(r.stdout.trim(), "1000");
        }
        const ms = performance.now() - t0;
        writeFileSync(stopServer, "");
        const r = await child.done();
        assertEquals(r.code, 0, explain(r));
        const res = r.result as {
          maxConnections: number;
          tcp: Record<string, number>;
          accepted: { ts: boolean; sack: boolean; wscale: number; mss: number }[];
          app: Record<string, number>;
          zone: { inUse: number };
          port: Record<string, number>;
        };
        console.log(
          `syn flood: ${sent} SYNs, ${res.port.rxRingDropped} frames dropped on a full ring; ` +
            `${res.tcp.synCookiesSent} cookies sent, ${res.tcp.synsShed} SYNs shed, ` +
            `${res.tcp.synCookiesAccepted} cookies accepted; ` +
            `at most ${res.maxConnections} connections held; download ${(bigMs / 1000).toFixed(1)} s, ` +
            `all ${(ms / 1000).toFixed(1)} s`,
        );
        assertEquals(
          big.stdout.split(" ")[0],
          patternSha256(n),
          "the download under the flood is byte-exact",
        );
        assertEquals(sent, floodCount, "the flood sent every SYN");
        assert(res.tcp.synCookiesSent > 0, "the full backlog answered with cookies");
        // The backlog's half-open connections, the four transfers, and little else.
        assert(
          res.maxConnections <= tcpDefaults.backlog + 8,
          `held ${res.maxConnections} connections at once`,
        );
        assert(res.tcp.synCookiesAccepted >= 4, `${res.tcp.synCookiesAccepted} cookie handshakes completed`);
        assertEquals(res.accepted.length, 4);
        for (const o of res.accepted) {
          // The kernel offers all of these; a cookie brings them back (wscale 7: Linux's default here).
          assertEquals([o.ts, o.sack, o.wscale > 0, o.mss], [true, true, true, 1460], JSON.stringify(o));
        }
        assertEquals([res.app.accepted, res.app.failed], [4, 0]);
        assertEquals(res.zone.inUse, 0, "every buffer back");
      } finally {
        writeFileSync(stopFlood, "");
        if (child !== undefined && child.process.exitCode === null) child.process.kill("SIGKILL");
        lab.close();
        removeEalFiles(prefix);
        rmSync(dir, { recursive: true, force: true });
      }
    },
    { timeoutMs: 180_000 },
  );
});
