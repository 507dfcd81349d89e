/**
 * SACK: the sender's scoreboard (RFC 2018, RFC 2883, RFC 6675) and the
 * receiver's block builder (RFC 2018 4). Sequence numbers start near 2^32 so
 * that everything crosses the wrap. Random tests take their seed from
 * LUNA_SEED when set, and print it on failure.
 */
import { describe, test } from "./harness.ts";
import { prng, seedFromEnv } from "./helpers.ts";
import { assertEquals } from "@std/assert";
import { NextSeg, type OutOfOrderRanges, SackBlockBuilder, SackScoreboard } from "../src/tcp/sack.ts";
import { Reassembly } from "../src/tcp/reassembly.ts";

const mss = 100;
const base = 0xffff_ff00; // 256 below the wrap

function at(offset: number): number {
  return (base + offset) >>> 0;
}

function blocks(...offsets: number[]): Uint32Array {
  return Uint32Array.from(offsets.map(at));
}

/** A scoreboard with 2000 bytes sent from `base`. */
function board(options = {}): SackScoreboard {
  const sb = new SackScoreboard(mss, options);
  sb.reset(at(0));
  sb.sent(at(2000));
  return sb;
}

function ranges(sb: SackScoreboard): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < sb.rangeCount; i++) {
    out.push([(sb.rangeStart(i) - base) >>> 0, (sb.rangeEnd(i) - base) >>> 0]);
  }
  return out;
}

/** An out-of-order queue given as [start, end) offsets from `base`. */
function queue(...list: Array<[number, number]>): OutOfOrderRanges {
  return { count: list.length, seqAt: (i) => at(list[i][0]), endAt: (i) => at(list[i][1]) };
}

function built(out: Uint32Array, n: number): number[][] {
  const r: number[][] = [];
  for (let i = 0; i < n; i++) r.push([(out[2 * i] - base) >>> 0, (out[2 * i + 1] - base) >>> 0]);
  return r;
}

describe("tcp sack scoreboard", () => {
  test("RFC 2018 (3): blocks are recorded, merged when they overlap or touch, and new bytes counted", () => {
    const sb = board();
    assertEquals(sb.update(at(0), blocks(300, 400), 1), 100);
    assertEquals(sb.update(at(0), blocks(600, 700, 300, 400), 2), 100);
    assertEquals(sb.update(at(0), blocks(400, 500), 1), 100); // touches 300..400
    assertEquals(ranges(sb), [[300, 500], [600, 700]]);
    assertEquals(sb.update(at(0), blocks(450, 650), 1), 100); // bridges the two
    assertEquals(ranges(sb), [[300, 700]]);
    assertEquals(sb.sackedBytes, 400);
    assertEquals(sb.update(at(0), blocks(300, 700), 1), 0); // nothing new: not a duplicate ACK (RFC 6675 2)
    assertEquals(sb.highSacked, at(700));
  });

  test("RFC 6675 (4): the cumulative ACK drops and trims ranges below it, across the wrap", () => {
    const sb = board();
    sb.update(at(0), blocks(100, 200, 300, 500), 2);
    sb.update(at(350), new Uint32Array(0), 0);
    assertEquals([sb.highAck, ranges(sb), sb.sackedBytes], [at(350), [[350, 500]], 150]);
    assertEquals(sb.highAck < base, true); // past the wrap
  });

  test("RFC 2018 (3): empty blocks and blocks beyond what was sent are ignored; a block below the ACK is trimmed", () => {
    const sb = board();
    assertEquals(sb.update(at(0), blocks(500, 500), 1), 0);
    assertEquals(sb.update(at(0), blocks(1900, 2100), 1), 0);
    assertEquals(sb.update(at(0), blocks(600, 500), 1), 0);
    sb.update(at(200), blocks(300, 400), 1);
    // [100, 350) is trimmed to [200, 350): 100 new bytes, merged with [300, 400).
    assertEquals(sb.update(at(200), blocks(300, 400, 100, 350), 2), 100);
    assertEquals(ranges(sb), [[200, 400]]);
  });

  test("RFC 2883 (4): a first block below the cumulative ACK is a D-SACK, not new SACKed data", () => {
    const sb = board();
    assertEquals(sb.update(at(500), blocks(100, 200, 800, 900), 2), 100);
    assertEquals([sb.dsack, (sb.dsackStart - base) >>> 0, (sb.dsackEnd - base) >>> 0], [true, 100, 200]);
    assertEquals(ranges(sb), [[800, 900]]);
    sb.update(at(500), blocks(1000, 1100), 1);
    assertEquals(sb.dsack, false);
  });

  test("RFC 2883 (4): a first block inside the second block is a D-SACK", () => {
    const sb = board();
    sb.update(at(0), blocks(600, 800), 1);
    assertEquals(sb.update(at(0), blocks(650, 700, 600, 800), 2), 0);
    assertEquals(sb.dsack, true);
    assertEquals(sb.sackedBytes, 200);
  });

  test("the scoreboard is bounded: past 32 ranges it forgets the highest", () => {
    const sb = new SackScoreboard(mss);
    sb.reset(at(0));
    sb.sent(at(10_000));
    for (let k = 0; k < 40; k++) sb.update(at(0), blocks(100 + 200 * k, 200 + 200 * k), 1);
    assertEquals(sb.rangeCount, 32);
    assertEquals(ranges(sb)[31], [6300, 6400]);
    assertEquals(sb.sackedBytes, 3200);
    // A lower block still gets in, pushing the highest out.
    assertEquals(sb.update(at(0), blocks(0, 50), 1), 50);
    assertEquals([sb.rangeCount, ranges(sb)[0], ranges(sb)[31]], [32, [0, 50], [6100, 6200]]);
  });

  test("RFC 6675 (4) IsLost: DupThresh SACKed ranges above, or more than 2*SMSS SACKed bytes above", () => {
    const sb = board();
    sb.update(at(0), blocks(200, 300, 400, 450), 2);
    assertEquals(sb.isLost(at(0)), false); // 2 ranges, 150 bytes
    sb.update(at(0), blocks(600, 610), 1);
    assertEquals(sb.isLost(at(0)), true); // 3 ranges
    assertEquals(sb.isLost(at(350)), false); // 2 above
    assertEquals(sb.isLost(at(250)), false); // SACKed itself
    const sb2 = board();
    sb2.update(at(0), blocks(500, 700), 1);
    assertEquals(sb2.isLost(at(0)), false); // exactly 2*SMSS: not more
    sb2.update(at(0), blocks(700, 701), 1);
    assertEquals(sb2.isLost(at(0)), true);
  });

  test("RFC 6675 (4) SetPipe: unSACKed bytes count unless lost, and again if retransmitted", () => {
    const sb = new SackScoreboard(mss);
    sb.reset(at(0));
    sb.sent(at(1000));
    // Holes: [0,100) is lost (3 ranges above); [200,300) (2 ranges, 200 bytes above) and
    // [400,500) are not; nothing is SACKed above [600,1000), so it is not lost either.
    sb.update(at(0), blocks(100, 200, 300, 400, 500, 600), 3);
    assertEquals(sb.pipe(), 0 + 100 + 100 + 400);
    sb.retransmitted(at(0), 100);
    assertEquals(sb.pipe(), 100 + 100 + 100 + 400);
    sb.retransmitted(at(200), 50); // retransmitted and not lost: counted twice
    assertEquals(sb.pipe(), 100 + 150 + 100 + 400);
  });

  test("RFC 6675 (4) NextSeg rule 1: the first lost hole at or above HighRxt, one SMSS at a time", () => {
    const sb = board();
    sb.update(at(0), blocks(250, 300, 400, 500, 600, 700), 3);
    sb.startRecovery();
    assertEquals(sb.nextSeg(true), NextSeg.retransmitLost);
    assertEquals([(sb.segSeq - base) >>> 0, sb.segLen], [0, 100]);
    sb.retransmitted(sb.segSeq, sb.segLen);
    assertEquals(sb.nextSeg(true), NextSeg.retransmitLost);
    assertEquals([(sb.segSeq - base) >>> 0, sb.segLen], [100, 100]);
    sb.retransmitted(sb.segSeq, sb.segLen);
    assertEquals(sb.nextSeg(true), NextSeg.retransmitLost);
    assertEquals([(sb.segSeq - base) >>> 0, sb.segLen], [200, 50]); // the hole ends at 250
    sb.retransmitted(sb.segSeq, sb.segLen);
    // The hole [300, 400) has 2 ranges and 200 bytes above: not lost; rule 2 comes first.
    assertEquals(sb.nextSeg(true), NextSeg.newData);
    assertEquals(sb.segSeq, sb.highData);
  });

  test("RFC 6675 (4) NextSeg rule 3: without new data, an unSACKed hole not yet lost", () => {
    const sb = board();
    sb.update(at(0), blocks(300, 400), 1);
    assertEquals(sb.isLost(at(0)), false);
    assertEquals(sb.nextSeg(false), NextSeg.retransmitUnsacked);
    assertEquals([(sb.segSeq - base) >>> 0, sb.segLen], [0, 100]);
    sb.retransmitted(at(0), 300);
    assertEquals(sb.nextSeg(false), NextSeg.none);
  });

  test("RFC 6675 (5): RecoveryPoint is HighData at the start; an ACK reaching it ends recovery", () => {
    const sb = board();
    sb.update(at(0), blocks(300, 600), 1);
    assertEquals(sb.recoveryAllowed(), true);
    sb.startRecovery();
    assertEquals([sb.recoveryPoint, sb.highRxt, sb.inRecovery], [at(2000), at(0), true]);
    assertEquals(sb.recoveryAllowed(), false);
    sb.sent(at(2500));
    sb.update(at(1999), new Uint32Array(0), 0);
    assertEquals(sb.inRecovery, true);
    sb.update(at(2000), new Uint32Array(0), 0);
    assertEquals(sb.inRecovery, false);
  });

  test("RFC 6675 (5.1) / RFC 2018 (8): a timeout forgets the SACK information and sets RecoveryPoint", () => {
    const sb = board();
    sb.update(at(0), blocks(300, 600), 1);
    sb.startRecovery();
    sb.retransmitted(at(0), 100);
    sb.onRetransmitTimeout();
    assertEquals([sb.rangeCount, sb.sackedBytes, sb.inRecovery, sb.highRxt, sb.recoveryPoint], [
      0,
      0,
      false,
      at(0),
      at(2000),
    ]);
    assertEquals(sb.recoveryAllowed(), false);
  });

  test("random blocks agree with a byte map: ranges, IsLost, SetPipe, NextSeg", () => {
    const seed = seedFromEnv();
    const rand = prng(seed);
    const why = `seed=${seed} (rerun with LUNA_SEED=${seed})`;
    const window = 3000;
    for (let round = 0; round < 200; round++) {
      const start = (Math.floor(rand() * 0x1_0000_0000) | 0xffff_f000) >>> 0; // near the wrap
      const sb = new SackScoreboard(mss, { rangesMax: 1000 });
      sb.reset(start);
      sb.sent((start + window) >>> 0);
      const sacked = new Uint8Array(window);
      let una = 0;
      for (let step = 0; step < 30; step++) {
        if (rand() < 0.2) una = Math.min(window, una + Math.floor(rand() * 300));
        const n = 1 + Math.floor(rand() * 4);
        const b = new Uint32Array(2 * n);
        for (let k = 0; k < n; k++) {
          const s = una + Math.floor(rand() * (window - una));
          const e = Math.min(window, s + 1 + Math.floor(rand() * 250));
          b[2 * k] = (start + s) >>> 0;
          b[2 * k + 1] = (start + e) >>> 0;
        }
        // Keep the first block from looking like a D-SACK (inside the second): the model ignores those.
        if (n > 1 && b[2] - start <= b[0] - start && b[1] - start <= b[3] - start) continue;
        const before = sacked.reduce((a, x, i) => a + (i >= una ? x : 0), 0);
        for (let i = 0; i < una; i++) sacked[i] = 0;
        for (let k = 0; k < n; k++) {
          for (let i = b[2 * k] - start >>> 0; i < ((b[2 * k + 1] - start) >>> 0); i++) {
            sacked[i] = 1;
          }
        }
        const after = sacked.reduce((a, x) => a + x, 0);
        const added = sb.update((start + una) >>> 0, b, n);
        assertEquals(added, after - before, `${why}: new bytes`);
        // Ranges are the runs of the map.
        const runs: number[][] = [];
        for (let i = una; i < window; i++) {
          if (sacked[i] && (i === una || !sacked[i - 1])) runs.push([i, i + 1]);
          else if (sacked[i]) runs[runs.length - 1][1] = i + 1;
        }
        const got: number[][] = [];
        for (let i = 0; i < sb.rangeCount; i++) {
          got.push([(sb.rangeStart(i) - start) >>> 0, (sb.rangeEnd(i) - start) >>> 0]);
        }
        assertEquals(got, runs, `${why}: ranges`);
        // IsLost per byte, from its definition.
        const lostAt = (x: number) => {
          if (sacked[x]) return false;
          const above = runs.filter(([s]) => s > x);
          const bytes = above.reduce((a, [s, e]) => a + e - s, 0);
          return above.length >= 3 || bytes > 2 * mss;
        };
        const highRxt = una + Math.floor(rand() * (window - una));
        sb.highRxt = (start + highRxt) >>> 0;
        let pipe = 0;
        for (let x = una; x < window; x++) {
          if (sacked[x]) continue;
          if (!lostAt(x)) pipe++;
          if (x < highRxt) pipe++;
        }
        for (let x = una; x < window; x += 97) {
          assertEquals(sb.isLost((start + x) >>> 0), lostAt(x), `${why}: IsLost(${x})`);
        }
        assertEquals(sb.pipe(), pipe, `${why}: pipe`);
        // NextSeg rule 1 from its definition.
        const top = runs.length > 0 ? runs[runs.length - 1][1] : una;
        let s2 = -1;
        for (let x = Math.max(una, highRxt); x < top; x++) {
          if (!sacked[x] && lostAt(x)) {
            s2 = x;
            break;
          }
        }
        const kind = sb.nextSeg(false);
        if (s2 >= 0) {
          assertEquals([kind, (sb.segSeq - start) >>> 0], [NextSeg.retransmitLost, s2], `${why}: NextSeg`);
        } else {
          assertEquals(kind !== NextSeg.retransmitLost, true, `${why}: NextSeg found no lost hole`);
        }
      }
    }
  });
});

describe("tcp sack blocks (receiver)", () => {
  test("RFC 2018 (4): the block holding the latest segment comes first, then the other recent ones", () => {
    const b = new SackBlockBuilder();
    const q = queue([100, 200], [300, 400], [500, 600]);
    b.noteArrival(at(300), 100);
    b.noteArrival(at(500), 100);
    b.noteArrival(at(100), 100);
    const out = new Uint32Array(8);
    const n = b.build(at(0), q, out);
    assertEquals(built(out, n), [[100, 200], [500, 600], [300, 400]]);
  });

  test("RFC 2018 (4): a block that grew until a new hole stays second, with its last right edge", () => {
    // One receive burst: [100, 200) had been reported, then grows to 500 (three arrivals), a
    // segment is lost, and the burst's last ten arrivals build [600, 1600) beyond the hole. Its ACK must
    // carry [100, 500), not only the newest block and the oldest ones: the sender would take
    // [200, 500) for lost and send it again.
    const b = new SackBlockBuilder();
    const q = queue([10, 50], [60, 80], [100, 500], [600, 1600]);
    b.noteArrival(at(10), 40);
    b.noteArrival(at(60), 20);
    b.noteArrival(at(100), 100);
    const out = new Uint32Array(8);
    for (const s of [200, 300, 400]) b.noteArrival(at(s), 100);
    for (let s = 600; s < 1600; s += 100) b.noteArrival(at(s), 100);
    assertEquals(built(out, b.build(at(0), q, out, 3)), [[600, 1600], [100, 500], [60, 80]]);
    // An arrival that fills the hole joins the two: their block comes first, once.
    b.noteArrival(at(500), 100);
    const q2 = queue([10, 50], [60, 80], [100, 1600]);
    assertEquals(built(out, b.build(at(0), q2, out, 3)), [[100, 1600], [60, 80], [10, 50]]);
  });

  test("an ACK reports at most `max` grown ranges: a burst growing one more is told to ACK first", () => {
    const b = new SackBlockBuilder();
    const out = new Uint32Array(8);
    b.noteArrival(at(100), 100);
    b.noteArrival(at(300), 100);
    assertEquals(
      b.wouldOverflow(at(200), 100, 3),
      false,
      "it fills the hole between two ranges grown already",
    );
    b.noteArrival(at(500), 100);
    assertEquals(b.wouldOverflow(at(600), 100, 3), false, "it grows one of the three");
    assertEquals(b.wouldOverflow(at(700), 100, 3), true, "a fourth range");
    b.build(at(0), queue([100, 200], [300, 400], [500, 600]), out, 3);
    assertEquals(b.wouldOverflow(at(700), 100, 3), false, "the ACK went: none grown since");
    b.noteDuplicate(at(50), 10);
    b.noteArrival(at(700), 100);
    assertEquals(
      b.wouldOverflow(at(900), 100, 3),
      true,
      "a D-SACK and the block holding it take two of the three",
    );
  });

  test("RFC 2018 (4): adjacent queued segments form one block; blocks are distinct", () => {
    const b = new SackBlockBuilder();
    const q = queue([100, 200], [200, 300], [500, 600]);
    b.noteArrival(at(100), 100);
    b.noteArrival(at(200), 100);
    const out = new Uint32Array(8);
    assertEquals(built(out, b.build(at(0), q, out)), [[100, 300], [500, 600]]);
  });

  test("RFC 2018 (4): at most as many blocks as fit (3 beside timestamps); none at or below RCV.NXT", () => {
    const b = new SackBlockBuilder();
    const q = queue([100, 200], [300, 400], [500, 600], [700, 800], [900, 1000]);
    for (const s of [100, 300, 500, 700, 900]) b.noteArrival(at(s), 100);
    const out = new Uint32Array(8);
    assertEquals(built(out, b.build(at(0), q, out, 3)), [[900, 1000], [700, 800], [500, 600]]);
    // RCV.NXT moved past the first two blocks (the queue still lists them until popped).
    assertEquals(built(out, b.build(at(400), q, out, 4)), [[900, 1000], [700, 800], [500, 600]]);
  });

  test("RFC 2883 (4): a duplicate is reported first as a D-SACK, once, then the block holding it", () => {
    const b = new SackBlockBuilder();
    const q = queue([300, 600], [800, 900]);
    b.noteArrival(at(800), 100);
    b.noteDuplicate(at(400), 100);
    const out = new Uint32Array(8);
    assertEquals(built(out, b.build(at(0), q, out)), [[400, 500], [300, 600], [800, 900]]);
    assertEquals(built(out, b.build(at(0), q, out)), [[800, 900], [300, 600]]);
    b.noteDuplicate(at(0xffff_ff00 - 50), 50); // below RCV.NXT, across the wrap
    assertEquals(built(out, b.build(at(0), q, out, 1)), [[0xffff_ff00 - 50, 0xffff_ff00]]);
  });

  test("a Reassembly queue serves as the out-of-order ranges", () => {
    const q = new Reassembly({ bytesMax: 1 << 20, release: () => {} });
    const b = new SackBlockBuilder();
    for (const [s, len] of [[500, 100], [100, 100], [200, 50]]) {
      q.insert(at(s), len, s, 0);
      b.noteArrival(at(s), len);
    }
    const out = new Uint32Array(8);
    assertEquals(built(out, b.build(at(0), q, out)), [[100, 250], [500, 600]]);
  });

  test("with nothing out of order there are no blocks", () => {
    const b = new SackBlockBuilder();
    const out = new Uint32Array(8);
    assertEquals(b.build(at(0), queue(), out), 0);
    b.noteArrival(at(100), 100);
    b.clear();
    assertEquals(b.build(at(0), queue(), out), 0);
  });
});
