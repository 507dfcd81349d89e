// Deterministic simulation: seeded transfers both ways at once over the
// in-memory link with loss, duplication, reordering, corruption, jitter and
// bandwidth limits; each checked end to end by SHA-256 and ending with both
// sides closed and nothing left behind. A failing seed is printed; rerun it
// alone with LUNA_SEED=N. LUNA_SIM_SEEDS and LUNA_SIM_MAX_BYTES widen the sweep.
// Every seed runs with the link cutting large segments (segmentation offload,
// the default where a device offers it); the first LUNA_SIM_SEEDS_OFF (200)
// run again with MSS-sized segments only; a fifth with RFC 6675 loss detection
// instead of RACK-TLP; LUNA_SIM_SEEDS_TAIL (500) tail-loss runs in both;
// LUNA_SIM_SEEDS_BURST (150) burst-loss runs (everything lost for 0.1-2 ms at a time). A quarter of the main seeds and
// a third of the burst ones ask for ECN, with CE marked at random. Every third seed of the first sweep runs with
// each host's received segments coalesced (receive offload, as LRO or GRO would make them).
import { assert, assertEquals } from "@std/assert";
import { describe, test } from "./harness.ts";
import { burstScenario, scenario, tailScenario } from "./tcp_scenarios.ts";
import { transfer } from "./tcp_sim.ts";

const only = process.env.LUNA_SEED;
const seeds = Number(process.env.LUNA_SIM_SEEDS ?? 1000);
// RFC 6675 loss detection alone (no RACK-TLP), kept for comparison: a fifth of the sweep.
const seedsRfc6675 = Math.ceil(seeds / 5);
const seedsOff = Number(process.env.LUNA_SIM_SEEDS_OFF ?? 200);
// Tail loss: short transfers at 3-10% loss, each with rack and with rfc6675.
const seedsTail = Number(process.env.LUNA_SIM_SEEDS_TAIL ?? 500);
// Burst loss: every frame lost for 0.1-2 ms at a time.
const seedsBurst = Number(process.env.LUNA_SIM_SEEDS_BURST ?? 150);
const maxBytes = Number(process.env.LUNA_SIM_MAX_BYTES ?? 10 << 20);
/** Payload bytes of a large segment the simulated link takes (as a DPDK port with GSO). */
const segmentation = 65000;

describe("tcp simulation", () => {
  for (const [on, count] of [[true, seeds], [false, seedsOff]] as const) {
    const what = on ? "large segments cut by the link" : "MSS-sized segments";
    test(
      `${only ? `seed ${only}` : `${count} seeded runs`}, ${what}: transfers of 1 KB..${
        maxBytes >> 20
      } MB both ways under faults arrive intact`,
      () => {
        const failures: string[] = [];
        const list = only ? [Number(only)] : Array.from({ length: count }, (_, i) => i + 1);
        let coalesced = 0;
        for (const seed of list) {
          const r = transfer({
            ...scenario(seed, maxBytes),
            segmentation: on ? segmentation : 0,
            coalescing: on && seed % 3 === 0,
          });
          if (!r.ok) failures.push(`${r.detail} (rerun: LUNA_SEED=${seed})`);
          coalesced += r.coalesced;
        }
        assertEquals(failures, []);
        // The coalescing share did coalesce: TCP took chained segments, not only single ones.
        if (on && list.some((s) => s % 3 === 0)) assert(coalesced > 0, "no segment was coalesced");
      },
      { timeoutMs: 900_000 },
    );
  }

  test(
    `${
      only ? `seed ${only}` : `${seedsRfc6675} seeded runs`
    } with lossDetection "rfc6675", large segments: arrive intact`,
    () => {
      const failures: string[] = [];
      const list = only ? [Number(only)] : Array.from({ length: seedsRfc6675 }, (_, i) => i + 1);
      for (const seed of list) {
        const o = scenario(seed, maxBytes);
        const r = transfer({ ...o, tcp: { ...o.tcp, lossDetection: "rfc6675" }, segmentation });
        if (!r.ok) failures.push(`${r.detail} (rerun: LUNA_SEED=${seed})`);
      }
      assertEquals(failures, []);
    },
    { timeoutMs: 900_000 },
  );

  test(
    `${
      only ? `seed ${only}` : `${seedsTail} seeded runs`
    } of tail loss (short transfers, 3-10% loss), rack and rfc6675`,
    () => {
      const failures: string[] = [];
      const list = only ? [Number(only)] : Array.from({ length: seedsTail }, (_, i) => i + 1);
      for (const seed of list) {
        const o = tailScenario(seed);
        for (const lossDetection of ["rack", "rfc6675"] as const) {
          const r = transfer({ ...o, tcp: { ...o.tcp, lossDetection }, segmentation });
          if (!r.ok) failures.push(`${lossDetection} ${r.detail} (rerun: LUNA_SEED=${seed})`);
        }
      }
      assertEquals(failures, []);
    },
    { timeoutMs: 900_000 },
  );

  test(
    `${
      only ? `seed ${only}` : `${seedsBurst} seeded runs`
    } of burst loss (all frames for 0.1-2 ms), some with ECN`,
    () => {
      const failures: string[] = [];
      const list = only ? [Number(only)] : Array.from({ length: seedsBurst }, (_, i) => i + 1);
      for (const seed of list) {
        const r = transfer({ ...burstScenario(seed), segmentation });
        if (!r.ok) failures.push(`${r.detail} (rerun: LUNA_SEED=${seed})`);
      }
      assertEquals(failures, []);
    },
    { timeoutMs: 900_000 },
  );

  test(
    `${only ? `seed ${only}` : `${seedsRfc6675} seeded runs`} with congestion "bbr" (paced), large segments: arrive intact`,
    () => {
      const failures: string[] = [];
      const list = only ? [Number(only)] : Array.from({ length: seedsRfc6675 }, (_, i) => i + 1);
      for (const seed of list) {
        const o = scenario(seed, maxBytes);
        const r = transfer({ ...o, tcp: { ...o.tcp, congestion: "bbr" }, segmentation });
        if (!r.ok) failures.push(`${r.detail} (rerun: LUNA_SEED=${seed})`);
      }
      for (const seed of only ? [] : Array.from({ length: Math.ceil(seedsBurst / 3) }, (_, i) => i + 1)) {
        const o = burstScenario(seed);
        const r = transfer({ ...o, tcp: { ...o.tcp, congestion: "bbr" }, segmentation });
        if (!r.ok) failures.push(`burst ${r.detail} (rerun: LUNA_SEED=${seed})`);
      }
      assertEquals(failures, []);
    },
    { timeoutMs: 900_000 },
  );

  test("the same seed replays the same run exactly", () => {
    const a = transfer({ ...scenario(77, 1 << 20), segmentation });
    const b = transfer({ ...scenario(77, 1 << 20), segmentation });
    assertEquals(a.ok, true, a.detail);
    assertEquals(a.ms, b.ms);
  });
});
