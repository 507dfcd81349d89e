// Slow start behind a receiver that coalesces: a GRO or LRO receiver (Linux's,
// or luna-ts's own over memif) sends one ACK per coalesced segment, ten or
// twenty segments at a time. Slow start counts every segment such an ACK
// covers, as Linux does, so cwnd still doubles each round trip; with RFC
// 3465's L = 2*SMSS per ACK it grew by two segments a round trip, and a
// 64 KiB storage answer from the initial window took four round trips
// instead of three. After a timeout L stays 1*SMSS (RFC 3465 2.3).
import { assertEquals } from "@std/assert";
import { describe, test } from "./harness.ts";
import { ACK, type Dialogue, established } from "./tcp_dialogue.ts";

const mss = 1460;

/** A's data segments waiting for B now: [first seq, bytes] (relative to A's ISS). */
function flight(d: Dialogue): [number, number] {
  d.run(0.5);
  const data = d.queue.splice(0).filter((s) => s.payload.length > 0);
  if (data.length === 0) return [0, 0];
  return [data[0].seq, data.reduce((n, s) => n + s.payload.length, 0)];
}

/** B, a coalescing receiver: one ACK for all it received. */
function ackAll(d: Dialogue, upTo: number): void {
  d.send({ flags: ACK, seq: 1, ack: upTo });
}

describe("slow start with stretch ACKs", () => {
  for (const congestion of ["newreno", "cubic"] as const) {
    test(`${congestion}: one ACK for the ten segments of the initial window doubles cwnd: twenty go next`, () => {
      const d = established({ tcp: { congestion, noDelay: true } });
      d.write(60 * mss);
      assertEquals(flight(d), [1, 10 * mss]);
      ackAll(d, 1 + 10 * mss);
      assertEquals(d.tcb!.cc.cwnd, 20 * mss);
      assertEquals(flight(d), [1 + 10 * mss, 20 * mss]);
    });
  }

  test("a 64 KiB answer from the initial window in three round trips of one ACK each (10, 20, the rest)", () => {
    const d = established({ tcp: { noDelay: true } });
    const answer = 64 * 1024;
    d.write(answer);
    const rounds: number[] = [];
    for (let acked = 0; acked < answer && rounds.length < 10;) {
      const [from, bytes] = flight(d);
      assertEquals(from, 1 + acked, "each round starts where the last ACK left off");
      rounds.push(Math.ceil(bytes / mss));
      acked += bytes;
      ackAll(d, 1 + acked);
    }
    assertEquals(rounds, [10, 20, Math.ceil(answer / mss) - 30]);
  });

  test("RFC 3465 (2.3): after a timeout, slow start adds one segment per ACK however much it covers", () => {
    const d = established({ tcp: { congestion: "newreno", noDelay: true } });
    d.write(40 * mss);
    assertEquals(flight(d), [1, 10 * mss]);
    d.run(3000); // the retransmission timeout: cwnd one segment, SND.UNA resent
    d.queue.splice(0);
    assertEquals(d.tcb!.cc.cwnd, mss);
    ackAll(d, 1 + 10 * mss); // the original ten arrived after all: one ACK covers them
    assertEquals(d.tcb!.cc.cwnd, 2 * mss);
  });
});
