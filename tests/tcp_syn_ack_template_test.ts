// The cookie SYN-ACK's template (syn_ack_template.ts) writes the bytes the
// general header path (TcpRepr) writes, for every combination of options.
import { assertEquals } from "@std/assert";
import { ipHeadroom } from "../src/ip/mod.ts";
import { createHeapZone } from "../src/mem/mod.ts";
import { SynAckTemplates } from "../src/tcp/syn_ack_template.ts";
import { TcpFlags, TcpPacket, TcpRepr } from "../src/wire/mod.ts";
import { describe, test } from "./harness.ts";

describe("SYN-ACK templates", () => {
  test("each of the 8 option combinations matches TcpRepr's bytes", () => {
    const zone = createHeapZone({ name: "template", count: 64 });
    const t = new SynAckTemplates(1460, 65535, 5);
    const r = new TcpRepr();
    const view = new TcpPacket();
    for (let v = 0; v < 8; v++) {
      const [ts, ws, sack] = [(v & 1) !== 0, (v & 2) !== 0, (v & 4) !== 0];
      const fields = [
        40_000 + v,
        80,
        0xfedc_ba98 - v,
        0x0123_4567 + v,
        0x8000_0001 + v,
        0xffff_fff0 + v,
      ] as const;
      const h = zone.take();
      const off = t.write(
        zone,
        h,
        fields[0],
        fields[1],
        fields[2],
        fields[3],
        ts,
        fields[4],
        fields[5],
        ws,
        sack,
      );
      assertEquals(off, zone.dataStart(h) + zone.headroom + ipHeadroom);
      const got = zone.bytes.slice(off, off + t.length(ts, ws, sack));
      r.srcPort = fields[0];
      r.dstPort = fields[1];
      r.seq = fields[2];
      r.ack = fields[3];
      r.flags = TcpFlags.syn | TcpFlags.ack;
      r.window = 65535;
      r.urgent = 0;
      r.payloadLen = 0;
      r.options.clear();
      r.options.mss = 1460;
      if (ts) {
        r.options.timestamps = true;
        r.options.tsVal = fields[4];
        r.options.tsEcr = fields[5];
      }
      if (ws) r.options.windowScale = 5;
      if (sack) r.options.sackPermitted = true;
      const want = new Uint8Array(r.headerLen());
      r.emit(view.attach(want, 0, want.length), 0, 0, false);
      assertEquals(got, want, `ts ${ts} ws ${ws} sack ${sack}`);
      zone.release(h);
    }
  });
});
