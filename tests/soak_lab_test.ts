// A soak through real loss: `luna serve echo` on af_packet in a namespace lab,
// the kernel's TCP as its peers (node:net clients, tests/children/soak_clients.mjs),
// iptables dropping 1% of the frames each way on the kernel's side, and luna's
// fault injector reordering, duplicating and corrupting on its side. For
// SOAK_LAB_SECONDS of wall time (60 by default; SOAK_LAB_SECONDS=600 on demand)
// 8 connections at a time of churn (up to 600 bytes, one in five reset by the
// client halfway), echo (up to 64 KB) and bulk (up to 2.25 MB each way) run,
// a new one starting as each ends. Every transfer not reset on purpose is
// checked by SHA-256; the server ends with no connection open, none failed but
// by the clients' resets, every packet buffer back in the zone, and the server's
// heap (sampled through its control socket while the clients run) flat.
import { assert, assertEquals, assertMatch } from "@std/assert";
import { basename, dirname, join } from "node:path";
import { request } from "../src/control/client.ts";
import { Child, explain } from "./child.ts";
import { describe, test } from "./harness.ts";
import {
  addPeerFaults,
  interopLab,
  killLuna,
  type LunaServer,
  peerFaultCounters,
  repoRoot,
  sh,
  startLuna,
  stopLuna,
} from "./lab_peers.ts";

const seconds = Number(process.env.SOAK_LAB_SECONDS ?? 60);
const seed = Number(process.env.SOAK_LAB_SEED ?? 7);
const loss = 0.01;
const concurrent = 8;

describe("soak through iptables loss", () => {
  test(
    `${seconds} s of churn, echo and bulk from the kernel's TCP through ${
      loss * 100
    }% loss each way and injected faults`,
    async () => {
      const lab = interopLab();
      let srv: LunaServer | undefined;
      try {
        const undo = addPeerFaults(lab, { loss });
        srv = await startLuna(lab, "echo", "batch", {
          extra: ["--faults", `reorder=0.01,dup=0.005,corrupt=0.002,seed=${seed}`],
        });
        assertMatch(srv.child.stdout, /^luna: injecting faults .*\(seed \d+\)$/m);
        const clients = new Child("soak_clients.mjs", [
          join(repoRoot, "tests", "children", "soak_clients.mjs"),
          lab.luna.ip,
          String(srv.port),
          String(seconds),
          String(concurrent),
          String(seed),
        ], { program: "node", wrap: lab.wrap("kernel"), timeoutMs: (seconds + 150) * 1000 });
        // The server's heap, every half second while the clients run.
        assert(srv.control !== undefined, "luna serve opened its control socket");
        const control = { name: basename(srv.control, ".sock"), dir: dirname(srv.control) };
        let running = true;
        const finished = clients.done().finally(() => running = false);
        const heap: number[] = [];
        for (let i = 0; i < 4 * (seconds + 150) && running; i++) {
          const snap = await request(control.name, { op: "stats" }, () => {}, {
            dir: control.dir,
            timeoutMs: 10_000,
          });
          heap.push((snap.memory as { heapUsed: number }).heapUsed);
          await Promise.race([finished, new Promise((res) => setTimeout(res, 500))]);
        }
        const r = await finished;
        const faults = peerFaultCounters(lab);
        const c = r.result as Record<string, number> & { failures: string[] };
        assert(c !== undefined, explain(r));
        console.log(
          `soak (lab): ${c.verified} transfers verified (${c.churn} churn, ${c.echo} echo, ${c.bulk} bulk; ` +
            `${(c.bytes / 1e6).toFixed(0)} MB) and ${c.reset} reset by the client, in ${
              c.seconds.toFixed(1)
            } s; ` +
            `seed ${seed}; ${faults}`,
        );
        assertEquals(r.code, 0, `seed ${seed}: ${JSON.stringify(c.failures)}; ${faults}\n${explain(r)}`);
        assertEquals(c.failed, 0);
        assert(c.churn > 0 && c.echo > 0 && c.bulk > 0, JSON.stringify(c));
        // The loss rules did drop frames both ways.
        assert(/iptables dropped [1-9]\d* in, [1-9]\d* out/.test(faults), faults);
        // The last FINs and ACKs may still be crossing the loss: wait (bounded) until the kernel
        // holds no connection to the server but in TIME-WAIT before the server stops.
        const quietBy = Date.now() + 30_000;
        let left = "";
        for (let i = 0; i < 600 && Date.now() < quietBy; i++) {
          left = (await sh(lab, "kernel", `ss -Htan '( dport = :${srv.port} )' | grep -v TIME-WAIT || true`))
            .stdout
            .trim();
          if (left === "") break;
          await new Promise((res) => setTimeout(res, 50));
        }
        assertEquals(left, "", "the kernel's side closed every connection");
        // Heap flat: the smallest heap seen in the last quarter of the run (close to what is
        // live after a collection) against the smallest in the second fifth, once warmed up.
        assert(heap.length >= 10, `${heap.length} heap samples`);
        const early = Math.min(...heap.slice(Math.floor(heap.length / 5), Math.floor(2 * heap.length / 5)));
        const late = Math.min(...heap.slice(-Math.ceil(heap.length / 4)));
        console.log(
          `soak (lab): server heap floor ${(early / 1e6).toFixed(1)} MB early, ${
            (late / 1e6).toFixed(1)
          } MB late`,
        );
        assert(late - early < 48e6, `the server's heap grew ${((late - early) / 1e6).toFixed(1)} MB`);
        undo();
        const { report } = await stopLuna(srv);
        const a = report.appStats;
        assertEquals(a.accepted, c.started, "every client's connection was accepted");
        assertEquals(a.open, 0, "no connection left open");
        assertEquals(a.failed, a.failedReset, `only the clients' resets failed: ${JSON.stringify(a)}`);
        assert(a.failedReset <= c.reset, `${a.failedReset} resets seen, ${c.reset} made`);
        assertEquals(report.stack.zone.inUse, 0, "every packet buffer is back in the zone");
        assert(report.stack.tcp.retransSegs > 0, "the loss made luna retransmit");
      } finally {
        killLuna(srv);
        lab.close();
      }
    },
    { timeoutMs: (seconds + 200) * 1000 },
  );
});
