/**
 * Workload "ecn" (issue 14): DCTCP against CUBIC through a marking queue,
 * luna-ts to luna-ts over net_memif between two processes (bench/ecn_peer.ts),
 * in real time. This kernel has no AQM qdisc that marks CE, and memif has no
 * queue of its own: the sender's stack wraps its port in the fault injector
 * (`faults`, direction "tx"), whose rate limit with a bounded queue that marks
 * ECN-capable frames CE above a threshold K is the bottleneck switch port.
 *
 * In each configuration two bulk connections fill the bottleneck one way
 * while a third plays a closed-loop 64-byte ping-pong through the same
 * queue, as a storage client's small requests share a link with bulk
 * traffic. Configurations (one sender and one receiver process a round, the
 * configurations one after another in an order that rotates by round):
 * - dctcp: DCTCP (RFC 8257) with ECN at both ends;
 * - cubic: CUBIC without ECN: the queue fills until it drops;
 * - cubic-ecn: CUBIC with ECN (RFC 3168: an ECE halves the window, as a loss).
 * Figures per configuration: the ping's round trip p50/p99/p999, the bulk
 * goodput (bytes the receiver acknowledged in the measured stretch), and the
 * queue's occupancy p50/p99 (sampled every 50 µs); the ratio of each is
 * against cubic measured in the same run, medians of rounds (the goal:
 * DCTCP's p99 RTT <= 0.5x CUBIC's at >= 0.95x its goodput).
 *
 * The queue: 1 Gbit/s, a rate the sender (the fault injector cuts the stack's
 * 64 KB segments into frames and queues each in TypeScript) and the receiver
 * sustain while they have their cores (about 880 Mbit/s of goodput, 92% of
 * what the wire carries, in rounds where neither was stalled), so that the
 * queue is the injector's and not a process's backlog; K = 30 KB, 20 full-size frames, the
 * DCTCP paper's choice at 1 Gbit/s (RFC 8257 3.1's marking threshold; the
 * paper asks K > C x RTT / 7, under 1 KB at the 22 µs (p50) this pair's ping
 * takes with no other traffic, so the 64 KB bursts of segmentation offload
 * decide it here: K about half a burst marks the bursts that land on a standing
 * queue, not every one); 400 KB of queue (3.2 ms at the rate), a shallow
 * switch buffer that CUBIC fills. LUNA_ECN_RATE_MBIT, LUNA_ECN_K and
 * LUNA_ECN_QUEUE change them, to look at one case.
 *
 * The queue lives in the sender's process and keeps draining while that
 * process is off the CPU: a short queue (DCTCP's) then leaves the link idle
 * where a full one covers the gap. Each figure's notes say what share of the
 * measured stretch the sender spent in gaps of over 1 ms between polls
 * (`stalled`, in the table too); on a loaded machine that, not the
 * controllers, decides the goodput.
 *
 * @module
 */
import { rmSync } from "node:fs";
import type { CongestionName, EcnMode } from "../src/mod.ts";
import { onCleanup, type Proc, removeEalFiles } from "./_proc.ts";
import {
  ask,
  clientCpu,
  type Ctx,
  measure,
  memifEnd,
  quit,
  type Sample,
  serverCpu,
  startLuna,
} from "./tcp.ts";

const ecnPeer = new URL("./ecn_peer.ts", import.meta.url).pathname;

/** A configuration of the workload: the bulk and ping connections' controller and ECN mode. */
interface EcnConfig {
  name: string;
  congestion: CongestionName;
  ecn: EcnMode;
}

/** The configurations (the report compares each with cubic, bench/_report.ts). */
export const ecnConfigs: readonly EcnConfig[] = [
  { name: "dctcp", congestion: "dctcp", ecn: "on" },
  { name: "cubic", congestion: "cubic", ecn: "off" },
  { name: "cubic-ecn", congestion: "cubic", ecn: "on" },
];

/** Bulk connections filling the queue. */
const bulkConns = 2;

function envNumber(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === "") return dflt;
  const n = Number(v);
  if (!(n > 0)) throw new Error(`${name}: a number above 0, got ${v}`);
  return n;
}

/** The marking queue on the sender's transmit side (see the module documentation). */
export function ecnQueue(): { bandwidthBps: number; ceThresholdBytes: number; queueBytesMax: number } {
  return {
    bandwidthBps: envNumber("LUNA_ECN_RATE_MBIT", 1000) * 1e6,
    ceThresholdBytes: Math.round(envNumber("LUNA_ECN_K", 30_000)),
    queueBytesMax: Math.round(envNumber("LUNA_ECN_QUEUE", 400_000)),
  };
}

/** Measured seconds of each configuration, and its warm-up (slow start, DCTCP's alpha settling from 1). */
const timing = (ctx: Ctx) => ({ warmupS: Math.max(1, ctx.o.warmupS), measureS: Math.max(2, ctx.o.measureS) });

/** The terminal's progress line of an ecn sample. */
export function describeEcn(s: Sample): string {
  const m = s.metrics;
  const n = s.notes ?? {};
  return `${m.goodput_mbit_per_s.toFixed(0)} Mbit/s, RTT p50 ${m.rtt_p50_us.toFixed(0)} µs p99 ${
    m.rtt_p99_us.toFixed(0)
  } µs, queue p99 ${
    (m.queue_p99_bytes / 1000).toFixed(0)
  } KB, ${n.ce_marked} CE marks, ${n.queue_drops} drops, ` +
    `stalled ${(100 * Number(n.stalled)).toFixed(0)}%`;
}

/** How many measurements a round makes. */
export const ecnSteps: number = ecnConfigs.length;

/** One round: a receiver and a sender over memif, every configuration once, the order rotating by round. */
export async function ecnRound(ctx: Ctx): Promise<void> {
  const mode = ctx.o.modes[0] ?? "batch";
  const t = timing(ctx);
  const tag = `${process.pid}-ecn${ctx.round}`;
  const socket = `/tmp/luna-bench-${tag}.sock`;
  const rp = `luna-bench-${tag}-r`;
  const sp = `luna-bench-${tag}-s`;
  const lifetimeS = 120 + ecnConfigs.length * (t.warmupS + t.measureS + 20);
  const removeFiles = () => {
    removeEalFiles(rp);
    removeEalFiles(sp);
    rmSync(socket, { force: true });
  };
  const clean = onCleanup(removeFiles);
  const congestions = [...new Set(ecnConfigs.map((c) => c.congestion))];
  const order = ecnConfigs.map((_, i) => ecnConfigs[(i + ctx.round) % ecnConfigs.length]);
  let receiver: Proc | undefined;
  let sender: Proc | undefined;
  let startError: unknown;
  try {
    removeFiles();
    receiver = await startLuna(ecnPeer, ["taskset", "-c", serverCpu], {
      ...memifEnd("server", socket, mode, rp, serverCpu, lifetimeS),
      role: "receiver",
      congestions,
    });
    sender = await startLuna(ecnPeer, ["taskset", "-c", clientCpu], {
      ...memifEnd("client", socket, mode, sp, clientCpu, lifetimeS),
      role: "sender",
      congestions,
      faults: { seed: 14 + ctx.round, direction: "tx", ...ecnQueue() },
    });
  } catch (e) {
    startError = e;
  }
  try {
    for (const c of order) {
      await measure(ctx, "ecn", c.name, bulkConns, async () => {
        if (startError !== undefined || sender === undefined) throw startError ?? new Error("no sender");
        const phase = {
          config: c.name,
          congestion: c.congestion,
          ecn: c.ecn,
          index: congestions.indexOf(c.congestion),
          bulk: bulkConns,
          ...t,
        };
        const m = await ask(
          sender,
          `run ${JSON.stringify(phase)}`,
          /^(RESULT|FAIL) (.*)$/m,
          (t.warmupS + t.measureS + 40) * 1000,
        );
        const r = JSON.parse(m[2]);
        if (m[1] === "FAIL") throw new Error(`sender: ${r.error}`);
        if (r.errors > 0) throw new Error(`${r.errors} ping answers of the wrong length`);
        if (!(r.pings > 0)) throw new Error("no ping answered in the measured stretch");
        if (c.ecn === "on" && r.ecn !== true) throw new Error("the bulk connections did not agree on ECN");
        const {
          goodput_mbit_per_s,
          rtt_p50_us,
          rtt_p99_us,
          rtt_p999_us,
          queue_p50_bytes,
          queue_p99_bytes,
          ...notes
        } = r;
        return {
          metrics: {
            goodput_mbit_per_s,
            rtt_p50_us,
            rtt_p99_us,
            rtt_p999_us,
            queue_p50_bytes,
            queue_p99_bytes,
          },
          notes: { ...notes, order: order.map((x) => x.name).join(","), queue: ecnQueue() },
        };
      });
    }
  } finally {
    await quit(sender);
    await quit(receiver);
    removeFiles();
    clean();
  }
}
