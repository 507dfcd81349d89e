/**
 * Seeded transfer scenarios for the deterministic simulation: sizes,
 * faults and link settings drawn from the seed alone, so a seed replays a
 * run exactly.
 *
 * @module
 */
import { Random } from "../src/util/random.ts";
import type { TransferOptions } from "./tcp_sim.ts";

/** The scenario of `seed`: transfers of 1 KB to `maxBytes` each way, faults up to 10% loss. */
export function scenario(seed: number, maxBytes = 10 << 20): TransferOptions {
  const o = baseScenario(seed, maxBytes);
  // A quarter of the seeds run with ECN asked for, CE marked at random, and half of
  // those with DCTCP (drawn apart, so that the draws above stay those of the seed).
  const e = new Random(seed ^ 0xec11);
  if (e.float() < 0.25) {
    o.faults = { ...o.faults, ceMark: e.float() * 0.1 };
    o.tcp = { ...o.tcp, ecn: "on", ...(e.float() < 0.5 ? { congestion: "dctcp" as const } : {}) };
  }
  return o;
}

function baseScenario(seed: number, maxBytes: number): TransferOptions {
  const r = new Random(seed);
  const size = () => Math.floor(1024 * Math.pow(maxBytes / 1024, r.float()));
  const p = (max: number) => (r.float() < 0.5 ? 0 : r.float() * max);
  const reorder = p(0.1);
  return {
    seed,
    bytesAtoB: size(),
    bytesBtoA: size(),
    faults: {
      loss: p(0.1),
      duplicate: p(0.05),
      reorder,
      reorderFrames: reorder > 0 ? 1 + r.int(8) : undefined,
      corrupt: p(0.03),
      delayMs: r.float() * 2,
      jitterMs: p(3),
    },
    bandwidthBps: r.float() < 0.5 ? 0 : 10e6 + r.float() * 990e6,
    delayMs: r.float(),
    tcp: {
      congestion: r.float() < 0.5 ? "cubic" : "newreno",
      sack: r.float() < 0.8,
      timestamps: r.float() < 0.8,
      windowScaling: r.float() < 0.9,
      noDelay: r.float() < 0.3,
    },
  };
}

/**
 * Tail loss: short transfers (1 to 64 KB each way, a few segments) over a
 * path losing up to 10%, where the last segments of a flight are often the
 * ones lost (RFC 8985 7: what the tail loss probe is for).
 */
export function tailScenario(seed: number): TransferOptions {
  const r = new Random(seed ^ 0x5a5a);
  const size = () => 1 + Math.floor(1024 * Math.pow(64, r.float()));
  return {
    seed,
    bytesAtoB: size(),
    bytesBtoA: size(),
    faults: {
      loss: 0.03 + r.float() * 0.07,
      delayMs: r.float() * 5,
      jitterMs: r.float() < 0.5 ? 0 : r.float(),
    },
    delayMs: r.float(),
    tcp: { congestion: r.float() < 0.5 ? "cubic" : "newreno", timestamps: r.float() < 0.5 },
  };
}

/**
 * Burst loss: transfers of 16 KB to 2 MB each way over a path that drops
 * every frame for 0.1 to 2 ms at a time (a queue overflowing, a link flapping),
 * where whole flights and their retransmissions go together; a third of the
 * seeds with ECN and random CE marks.
 */
export function burstScenario(seed: number): TransferOptions {
  const r = new Random(seed ^ 0xb0b5);
  const size = () => Math.floor(16384 * Math.pow(128, r.float()));
  const ecn = r.float() < 1 / 3;
  const congestions = ["cubic", "newreno", "dctcp"] as const;
  return {
    seed,
    bytesAtoB: size(),
    bytesBtoA: size(),
    faults: {
      burstLoss: 0.001 + r.float() * 0.01,
      burstMs: 0.1 + r.float() * 1.9,
      loss: r.float() < 0.5 ? 0 : r.float() * 0.01,
      delayMs: r.float() * 3,
      ceMark: ecn ? r.float() * 0.05 : 0,
    },
    bandwidthBps: r.float() < 0.5 ? 0 : 50e6 + r.float() * 450e6,
    delayMs: r.float(),
    tcp: {
      congestion: congestions[r.int(3)],
      sack: r.float() < 0.8,
      timestamps: r.float() < 0.7,
      ecn: ecn ? "on" : "passive",
    },
  };
}
