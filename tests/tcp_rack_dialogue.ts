// Packet dialogues for RACK-TLP's tests (tcp_rack_test.ts, tcp_probe_test.ts): a
// connection ESTABLISHED with SACK and an SRTT of 20 ms, and full segments by index.
import { assertAlmostEquals, assertEquals } from "@std/assert";
import { ACK, type Dialogue, type DialogueOptions, type Seg, synReceived } from "./tcp_dialogue.ts";

/** The MSS of the dialogues. */
export const mss = 1460;
/** The relative sequence number of A's `i`-th full segment (0-based). */
export const at = (i: number) => 1 + mss * i;

/** ESTABLISHED with SACK, SRTT 20 ms from a handshake that took 20 ms. */
export function rackEstablished(o: DialogueOptions = {}): Dialogue {
  const d = synReceived({ ...o, peer: { sackPermitted: true, ...o.peer } });
  d.run(20);
  d.send({ flags: ACK, seq: 1, ack: 1 });
  assertEquals(d.state(), "ESTABLISHED");
  assertAlmostEquals(d.tcb!.rto.srttMs, 20, 1.5);
  return d;
}

/** A writes `n` full segments; returns them as B received them. */
export function writeSegments(d: Dialogue, n: number, from = 0): Seg[] {
  d.write(n * mss, at(from) - 1);
  const segs: Seg[] = [];
  for (let i = 0; i < n; i++) segs.push(d.expect({ seq: at(from + i), len: mss }));
  return segs;
}
