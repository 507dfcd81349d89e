import { assertEquals, assertStringIncludes } from "@std/assert";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DESC_WORDS, type Device } from "../src/device/device.ts";
import { createMemoryLink } from "../src/device/memory/mod.ts";
import { pcapMagicMicro, pcapMagicNano, PcapTap } from "../src/device/pcap/mod.ts";
import { createHeapZone, type MemZone } from "../src/mem/mod.ts";
import { EtherType, IpProtocol, parseIpv4, parseMac, TcpFlags, TcpPacket, TcpRepr } from "../src/wire/mod.ts";
import { writeEthernet, writeIpv4, writeUdp } from "./frames.ts";
import { describe, test } from "./harness.ts";

const macA = "02:00:00:00:00:01";
const macB = "02:00:00:00:00:02";
const ipA = "198.18.0.1";
const ipB = "198.18.0.2";
const epochMs = Date.UTC(2024, 0, 1); // 1704067200 s

interface Segment {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  payload: number;
  /** TCP flags; UDP when absent. */
  flags?: number;
  seq?: number;
  mss?: number;
}

/** Builds an Ethernet/IPv4/TCP-or-UDP frame in a fresh buffer; fills record `k` of `descs`. */
function build(zone: MemZone, s: Segment, descs: Uint32Array, k: number): void {
  const h = zone.take();
  const off = zone.headroom;
  const base = zone.dataStart(h) + off;
  const b = zone.bytes;
  const src = parseIpv4(s.src);
  const dst = parseIpv4(s.dst);
  let l4Len: number;
  let headerLen: number;
  let protocol: number;
  const tcp = new TcpRepr();
  if (s.flags !== undefined) {
    tcp.srcPort = s.srcPort;
    tcp.dstPort = s.dstPort;
    tcp.seq = s.seq ?? 1000;
    tcp.ack = s.flags & TcpFlags.ack ? 5000 : 0;
    tcp.flags = s.flags;
    tcp.window = 65535;
    if (s.mss !== undefined) tcp.options.mss = s.mss;
    tcp.payloadLen = s.payload;
    protocol = IpProtocol.tcp;
    headerLen = tcp.headerLen();
    l4Len = tcp.bufferLen();
  } else {
    protocol = IpProtocol.udp;
    headerLen = 8;
    l4Len = 8 + s.payload;
  }
  const len = 14 + 20 + l4Len;
  for (let i = 0; i < s.payload; i++) b[base + 34 + headerLen + i] = 0x61 + (i % 26);
  const srcMac = parseMac(s.src === ipA ? macA : macB);
  const dstMac = parseMac(s.src === ipA ? macB : macA);
  writeEthernet(b, base, dstMac, srcMac, EtherType.ipv4);
  writeIpv4(b, base + 14, src, dst, protocol, l4Len);
  if (s.flags !== undefined) tcp.emit(new TcpPacket(b, base + 34, l4Len), src, dst);
  else writeUdp(b, base + 34, src, dst, s.srcPort, s.dstPort, s.payload);
  descs.set([h, off | (len << 16), 0, 0], k * DESC_WORDS);
}

/** Sends `segs` from `dev` in one burst at `now`. */
function send(dev: Device, segs: Segment[], now: number): number {
  const descs = new Uint32Array(segs.length * DESC_WORDS);
  segs.forEach((s, k) => build(dev.zone, s, descs, k));
  return dev.tx(descs, segs.length, now);
}

/** Receives and releases everything `dev` has at `now`. */
function drain(dev: Device, now: number): number {
  const descs = new Uint32Array(64 * DESC_WORDS);
  const n = dev.rx(descs, 64, now);
  for (let k = 0; k < n; k++) dev.zone.release(descs[k * DESC_WORDS]);
  return n;
}

/** Runs a program that reads the capture; a missing program fails the test, loudly. */
function run(program: string, args: string[]): string {
  try {
    return execFileSync(program, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { code?: string; stderr?: string; message: string };
    if (err.code === "ENOENT") {
      throw new Error(
        `${program} is not installed, and this test needs it to read the capture (apt-get install ${program})`,
      );
    }
    throw new Error(`${program} ${args.join(" ")} failed: ${err.stderr ?? err.message}`);
  }
}

function tsharkFields(file: string, fields: string[]): string[][] {
  const args = [
    "-r",
    file,
    "-o",
    "ip.check_checksum:TRUE",
    "-o",
    "tcp.check_checksum:TRUE",
    "-o",
    "udp.check_checksum:TRUE",
    "-T",
    "fields",
  ];
  for (const f of fields) args.push("-e", f);
  return run("tshark", args).replace(/\n+$/, "").split("\n").map((line) => line.split("\t"));
}

/** The dialogue of the tests: three frames out of a, one back into a. */
function dialogue(
  dir: string,
  name: string,
  options: { nanosecond?: boolean; snaplen?: number } = {},
): string {
  const path = join(dir, name);
  const zone = createHeapZone({ count: 64 });
  const [a, b] = createMemoryLink({ zone, macA, macB, delayMs: 0.5 });
  const tap = new PcapTap(a, { path, epochMs, ...options });
  assertEquals(
    send(tap, [
      {
        src: ipA,
        dst: ipB,
        srcPort: 40000,
        dstPort: 80,
        flags: TcpFlags.syn,
        seq: 1000,
        mss: 1460,
        payload: 0,
      },
      {
        src: ipA,
        dst: ipB,
        srcPort: 40000,
        dstPort: 80,
        flags: TcpFlags.ack | TcpFlags.psh,
        seq: 1001,
        payload: 100,
      },
    ], 1.5),
    2,
  );
  assertEquals(send(tap, [{ src: ipA, dst: ipB, srcPort: 5353, dstPort: 53, payload: 20 }], 2.000123456), 1);
  assertEquals(drain(b, 10), 3);
  send(b, [{
    src: ipB,
    dst: ipA,
    srcPort: 80,
    dstPort: 40000,
    flags: TcpFlags.syn | TcpFlags.ack,
    payload: 0,
    mss: 1400,
  }], 10);
  assertEquals(drain(tap, 10.5), 1);
  tap.close();
  b.close();
  assertEquals(zone.accounting().inUse, 0);
  return path;
}

/** Runs `body` with a fresh temporary folder, removed after. */
function inTempDir(body: (dir: string) => void): () => void {
  return () => {
    const dir = mkdtempSync(join(tmpdir(), "luna-pcap-"));
    try {
      body(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

describe("pcap tap", () => {
  test(
    "tshark reads back every frame sent and received, with its fields and checksums",
    inTempDir((dir) => {
      const file = dialogue(dir, "dialogue.pcap");
      const rows = tsharkFields(file, [
        "frame.len",
        "frame.time_epoch",
        "eth.src",
        "eth.dst",
        "ip.src",
        "ip.dst",
        "ip.checksum.status",
        "tcp.srcport",
        "tcp.dstport",
        "tcp.flags",
        "tcp.len",
        "tcp.options.mss_val",
        "tcp.checksum.status",
        "udp.srcport",
        "udp.dstport",
        "udp.length",
        "udp.checksum.status",
      ]);
      assertEquals(rows, [
        [
          "58",
          "1704067200.001500000",
          macA,
          macB,
          ipA,
          ipB,
          "1",
          "40000",
          "80",
          "0x0002",
          "0",
          "1460",
          "1",
          "",
          "",
          "",
          "",
        ],
        [
          "154",
          "1704067200.001500000",
          macA,
          macB,
          ipA,
          ipB,
          "1",
          "40000",
          "80",
          "0x0018",
          "100",
          "",
          "1",
          "",
          "",
          "",
          "",
        ],
        [
          "62",
          "1704067200.002000000",
          macA,
          macB,
          ipA,
          ipB,
          "1",
          "",
          "",
          "",
          "",
          "",
          "",
          "5353",
          "53",
          "28",
          "1",
        ],
        [
          "58",
          "1704067200.010500000",
          macB,
          macA,
          ipB,
          ipA,
          "1",
          "80",
          "40000",
          "0x0012",
          "0",
          "1400",
          "1",
          "",
          "",
          "",
          "",
        ],
      ]);
    }),
  );

  test(
    "tcpdump reads the file",
    inTempDir((dir) => {
      const file = dialogue(dir, "dialogue.pcap");
      const out = run("tcpdump", ["-r", file, "-nn", "-tt"]);
      const lines = out.trim().split("\n");
      assertEquals(lines.length, 4);
      assertStringIncludes(
        lines[0],
        "1704067200.001500 IP 198.18.0.1.40000 > 198.18.0.2.80: Flags [S], seq 1000",
      );
      assertStringIncludes(lines[1], "Flags [P.], seq 1001:1101, ack 5000");
      assertStringIncludes(lines[2], "198.18.0.1.5353 > 198.18.0.2.53:");
      assertStringIncludes(lines[3], "1704067200.010500 IP 198.18.0.2.80 > 198.18.0.1.40000: Flags [S.]");
    }),
  );

  test(
    "the file starts with a classic pcap header: magic, version 2.4, snaplen, Ethernet",
    inTempDir((dir) => {
      const bytes = readFileSync(dialogue(dir, "dialogue.pcap"));
      const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      assertEquals(v.getUint32(0, true), pcapMagicMicro);
      assertEquals([v.getUint16(4, true), v.getUint16(6, true)], [2, 4]);
      assertEquals([v.getUint32(16, true), v.getUint32(20, true)], [65535, 1]);
      assertEquals(bytes.length, 24 + 4 * 16 + 58 + 154 + 62 + 58);
    }),
  );

  test(
    "nanosecond timestamps keep their precision",
    inTempDir((dir) => {
      const file = dialogue(dir, "nano.pcap", { nanosecond: true });
      const bytes = readFileSync(file);
      assertEquals(new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true), pcapMagicNano);
      const times = tsharkFields(file, ["frame.time_epoch"]).map((r) => r[0]);
      assertEquals(times[2], "1704067200.002000123");
    }),
  );

  test(
    "a snaplen truncates the captured bytes and keeps the original length",
    inTempDir((dir) => {
      const file = dialogue(dir, "snap.pcap", { snaplen: 60 });
      assertEquals(tsharkFields(file, ["frame.len", "frame.cap_len"]), [
        ["58", "58"],
        ["154", "60"],
        ["62", "60"],
        ["58", "58"],
      ]);
    }),
  );

  test(
    "the same run on virtual time writes the same file",
    inTempDir((dir) => {
      const one = readFileSync(dialogue(dir, "one.pcap"));
      const two = readFileSync(dialogue(dir, "two.pcap"));
      assertEquals(one.equals(two), true);
    }),
  );

  test(
    "a clock function sets the timestamps",
    inTempDir((dir) => {
      const path = join(dir, "clock.pcap");
      const zone = createHeapZone({ count: 8 });
      const [a, b] = createMemoryLink({ zone });
      const tap = new PcapTap(a, { path, clock: (now) => 1_000_000_000_000 + now * 1000 });
      send(tap, [{ src: ipA, dst: ipB, srcPort: 1, dstPort: 2, payload: 1 }], 2);
      tap.close();
      drain(b, 2);
      b.close();
      assertEquals(tsharkFields(path, ["frame.time_epoch"]), [["1000000002.000000000"]]);
      assertEquals(zone.accounting().inUse, 0);
    }),
  );

  test(
    "frames the wrapped device refuses are not recorded",
    inTempDir((dir) => {
      const path = join(dir, "refused.pcap");
      const zone = createHeapZone({ count: 8 });
      const tap = new PcapTap(new TakesOne(zone), { path });
      const segs = [1, 2, 3].map((p) => ({ src: ipA, dst: ipB, srcPort: p, dstPort: 9, payload: 10 }));
      const descs = new Uint32Array(3 * DESC_WORDS);
      segs.forEach((s, k) => build(zone, s, descs, k));
      assertEquals(tap.tx(descs, 3, 0), 1);
      zone.release(descs[DESC_WORDS]);
      zone.release(descs[2 * DESC_WORDS]);
      assertEquals(send(tap, [{ src: ipA, dst: ipB, srcPort: 4, dstPort: 9, payload: 10 }], 1), 1);
      tap.close();
      assertEquals(tap.writer.records, 2);
      assertEquals(tsharkFields(path, ["udp.srcport"]), [["1"], ["4"]]);
      assertEquals(zone.accounting().inUse, 0);
    }),
  );

  test(
    "the file is written every flushIntervalMs of the caller's time, and on close",
    inTempDir((dir) => {
      const path = join(dir, "flush.pcap");
      const zone = createHeapZone({ count: 8 });
      const [a, b] = createMemoryLink({ zone });
      const tap = new PcapTap(a, { path, flushIntervalMs: 100 });
      send(tap, [{ src: ipA, dst: ipB, srcPort: 1, dstPort: 2, payload: 1 }], 0);
      assertEquals(statSync(path).size, 0, "gathered, not yet written");
      send(tap, [{ src: ipA, dst: ipB, srcPort: 1, dstPort: 2, payload: 1 }], 150);
      const size = statSync(path).size;
      assertEquals(size, 24 + 2 * (16 + 43));
      drain(b, 150);
      send(b, [{ src: ipB, dst: ipA, srcPort: 2, dstPort: 1, payload: 1 }], 160);
      drain(tap, 160);
      assertEquals(statSync(path).size, size);
      tap.close();
      tap.close();
      assertEquals(statSync(path).size, size + 16 + 43);
      assertEquals(a.rx(new Uint32Array(4), 1, 200), 0, "closing the tap closed the wrapped device");
      b.close();
      assertEquals(zone.accounting().inUse, 0);
    }),
  );
});

/** A device that sends only the first frame of each burst (and releases it). */
class TakesOne implements Device {
  readonly name = "takes-one";
  readonly mac = new Uint8Array(6);
  readonly mtu = 1500;
  readonly offloads = { rxChecksum: false, txChecksum: false };
  readonly zone: MemZone;
  constructor(zone: MemZone) {
    this.zone = zone;
  }
  rx(): number {
    return 0;
  }
  tx(d: Uint32Array, n: number): number {
    if (n === 0) return 0;
    this.zone.release(d[0]);
    return 1;
  }
  pollAt(): number {
    return Infinity;
  }
  close(): void {}
}
