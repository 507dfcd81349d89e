// zone.copyIn on a DPDK zone (one native call): bytes of a source, from an
// offset, into buffers in order; and what it refuses (a range past a
// buffer's data room, a handle that is not a buffer, more bytes than the
// source holds), copying nothing then.
// Usage: zone_copy.ts PREFIX
import { Dpdk } from "../../src/device/dpdk/mod.ts";

const [prefix] = process.argv.slice(2);
const dpdk = await Dpdk.start({ prefix });
const zone = dpdk.createZone("copy", { count: 1023, cache: 0 });
const freeBefore = zone.accounting().free;
const src = new Uint8Array(200_003);
for (let i = 0; i < src.length; i++) src[i] = (i * 2654435761) >>> 24;
const view = src.subarray(3); // a view that does not start its buffer: offsets are the view's

const n = 100;
const h = new Uint32Array(n);
zone.takeBulk(h, n);
const list = new Uint32Array(3 * n);
let total = 0;
for (let i = 0; i < n; i++) {
  const len = 1 + ((i * 997) % zone.dataRoomSize); // 1 byte to a whole data room
  const room = zone.dataRoomSize - len;
  list[3 * i] = h[i];
  list[3 * i + 1] = zone.dataStart(h[i]) + (i % 2 === 0 ? 0 : room); // at either end of the room
  list[3 * i + 2] = len;
  total += len;
}
zone.copyIn(view, 17, list, n);
let bad = 0;
let at = 17;
for (let i = 0; i < n; i++) {
  const off = list[3 * i + 1];
  for (let j = 0; j < list[3 * i + 2]; j++) if (zone.bytes[off + j] !== view[at + j]) bad++;
  at += list[3 * i + 2];
}

const refusals: string[] = [];
const untouched = () => zone.bytes[zone.dataStart(h[0])] === view[17];
const refused = (why: string, fn: () => void) => {
  zone.bytes.fill(0, zone.dataStart(h[1]), zone.dataStart(h[1]) + zone.dataRoomSize);
  try {
    fn();
    refusals.push(`${why}: copied`);
  } catch (e) {
    if (!(e instanceof RangeError)) refusals.push(`${why}: ${e}`);
    // Nothing copied: not even the first, good record.
    else if (zone.bytes[zone.dataStart(h[1])] !== 0 || !untouched()) refusals.push(`${why}: partly copied`);
  }
};
const two = (r: number[]) => new Uint32Array([h[1], zone.dataStart(h[1]), 8, ...r]);
refused(
  "past the data room",
  () => zone.copyIn(src, 0, two([h[2], zone.dataStart(h[2]) + 1, zone.dataRoomSize]), 2),
);
refused("before the data room", () => zone.copyIn(src, 0, two([h[2], zone.dataStart(h[2]) - 1, 4]), 2));
refused("not a buffer", () => zone.copyIn(src, 0, two([h[2] + 8, zone.dataStart(h[2]), 4]), 2));
refused("past the source", () => zone.copyIn(src, src.length - 10, two([h[2], zone.dataStart(h[2]), 4]), 2));

zone.releaseBulk(h, n);
zone.flush();
const result = {
  total,
  bad,
  refusals,
  freeBefore,
  freeAfter: zone.accounting().free,
  capacity: zone.capacity,
};
dpdk.close();
console.log("RESULT " + JSON.stringify(result));
