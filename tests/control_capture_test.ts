// The control socket's capture tap (`luna capture`): a received frame that
// arrives as a chain of buffers (longer than one, as at a loopback-class MTU
// over memif, or coalesced) is one pcap record with all of its bytes.
import { assertEquals } from "@std/assert";
import { CaptureSession, CaptureTap } from "../src/control/capture.ts";
import { DESC_WORDS, type Device, RxFlag } from "../src/device/device.ts";
import { createHeapZone } from "../src/mem/mod.ts";
import { describe, test } from "./harness.ts";

describe("capture", () => {
  test("a received chain is one record of the whole frame; a frame of one buffer one of its own", () => {
    const zone = createHeapZone({ count: 16 });
    // Records to hand out: a frame of three links (100 + 2000 + 500 bytes), then one of 60.
    const lengths = [100, 2000, 500, 60];
    const handles = lengths.map((len, i) => {
      const h = zone.take();
      const at = zone.dataStart(h) + zone.headroom;
      zone.bytes.fill(i + 1, at, at + len);
      return h;
    });
    const inner: Device = {
      name: "chains",
      zone,
      mac: new Uint8Array(6),
      mtu: 65521,
      offloads: { rxChecksum: true, txChecksum: true },
      rx(descs) {
        lengths.forEach((len, i) => {
          descs[i * DESC_WORDS] = handles[i];
          descs[i * DESC_WORDS + 1] = zone.headroom | (len << 16);
          descs[i * DESC_WORDS + 2] = i < 2 ? RxFlag.more : 0;
          descs[i * DESC_WORDS + 3] = 0;
        });
        return lengths.length;
      },
      tx: () => 0,
      pollAt: () => Infinity,
      close() {},
    };
    const tap = new CaptureTap(inner);
    const session = new CaptureSession({}, 0);
    tap.add(session);
    assertEquals(tap.rx(new Uint32Array(8 * DESC_WORDS), 8, 0), 4);
    assertEquals(session.records, 2);
    const file = session.take();
    const v = new DataView(file.buffer);
    // Record 1: captured and original length 2600, the three links' bytes in order.
    assertEquals([v.getUint32(8, true), v.getUint32(12, true)], [2600, 2600]);
    assertEquals([file[16], file[16 + 99], file[16 + 100], file[16 + 2099], file[16 + 2100], file[16 + 2599]], [
      1,
      1,
      2,
      2,
      3,
      3,
    ]);
    // Record 2: the 60-byte frame.
    const r2 = 16 + 2600;
    assertEquals([v.getUint32(r2 + 8, true), v.getUint32(r2 + 12, true), file[r2 + 16]], [60, 60, 4]);
    for (const h of handles) zone.release(h);
  });
});
