// The `packet:` device against the Linux kernel's TCP: `luna serve http` on
// luna's own AF_PACKET socket with PACKET_VNET_HDR (c-shims/packet_port.c),
// curl on the kernel's side of a veth whose offloads stay on, so 64 KB
// segments cross as GSO packets both ways. Needs root and the lab's tools:
// without them the tests fail, naming what is missing.
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { patternSha256 } from "../src/apps/pattern.ts";
import { createStack } from "../src/mod.ts";
import { ConfigError, NoSuchPortError } from "../src/errors.ts";
import { createLab, type Lab, requireLabTools } from "../src/lab/netns.ts";
import { removeEalFiles, tempDir, uniquePrefix } from "./child.ts";
import { describe, test } from "./harness.ts";
import {
  addPeerFaults,
  curlGet,
  curlPost,
  fileSha256,
  interopTools,
  killLuna,
  type LunaServer,
  peerFaultCounters,
  startLuna,
  stopLuna,
} from "./lab_peers.ts";

const MB = 1_000_000;

/** A lab whose veth keeps the kernel's offloads (checksums, TSO, GSO) on at both ends. */
function offloadLab(): Lab {
  requireLabTools(interopTools);
  return createLab({ prefix: "luna-test", offloads: true });
}

/**
 * Frames a raw AF_PACKET socket in the kernel's namespace sends to luna: the
 * kernel attaches no offload state to them (no NEEDS_CSUM, no DATA_VALID),
 * so the shim verifies them. A SYN whose TCP checksum is wrong, and an IPv4
 * header that declares more bytes than the frame holds.
 */
function sendMalformed(lab: Lab, lunaMac: string): void {
  const py = `
import socket, struct
def csum(b):
    if len(b) % 2: b += b"\\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(("${lab.kernel.iface}", 0))
src_mac = s.getsockname()[4]
dst_mac = bytes.fromhex("${lunaMac.replaceAll(":", "")}")
eth = dst_mac + src_mac + b"\\x08\\x00"
src = socket.inet_aton("${lab.kernel.ip}"); dst = socket.inet_aton("${lab.luna.ip}")
def ip(total, proto=6):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 1, 0, 64, proto, 0, src, dst)
    return h[:10] + struct.pack("!H", csum(h)) + h[12:]
tcp = struct.pack("!HHIIBBHHH", 40000, 80, 1, 0, 5 << 4, 0x02, 65535, 0xdead, 0)
s.send(eth + ip(40) + tcp)
s.send(eth + ip(1000) + tcp)
`;
  lab.exec("kernel", "/usr/bin/python3", ["-c", py]);
}

describe("packet: device (AF_PACKET with PACKET_VNET_HDR)", () => {
  test(
    "curl downloads from and uploads to luna serve http, clean and through 1% loss: byte-exact, " +
      "64 KB segments both ways, malformed frames counted and dropped, every buffer back",
    async () => {
      const lab = offloadLab();
      const dir = tempDir("packet-port");
      let srv: LunaServer | undefined;
      try {
        // No coexistence by default on packet: (the kernel bridge takes frames of one buffer).
        srv = await startLuna(lab, "http", "batch", { device: `packet:${lab.luna.iface}` });
        assertEquals(
          srv.ready,
          `luna: serving http on ${lab.luna.ip}:80 via packet:${lab.luna.iface} (batch)`,
        );
        const url = `http://${lab.luna.ip}`;
        const file = join(dir, "upload.bin");
        writeFileSync(file, randomBytes(6 * MB));
        const want = fileSha256(file);

        const n = 6 * MB + 321;
        const down = await curlGet(lab, `${url}/bytes/${n}`, 30);
        assertEquals([down.out, down.bytes], [patternSha256(n), n], "clean download");
        const up = await curlPost(lab, `${url}/sha256`, file, 30);
        assertEquals(up.out, want + "\n", "clean upload");

        const undo = addPeerFaults(lab, { loss: 0.01 });
        try {
          const m = 3 * MB + 7;
          const lossyDown = await curlGet(lab, `${url}/bytes/${m}`, 60);
          assertEquals(
            lossyDown.out,
            patternSha256(m),
            `download through 1% loss (${peerFaultCounters(lab)})`,
          );
          const lossyUp = await curlPost(lab, `${url}/sha256`, file, 60);
          assertEquals(lossyUp.out, want + "\n", `upload through 1% loss (${peerFaultCounters(lab)})`);
        } finally {
          undo();
        }

        const mac =
          /link\/ether ([0-9a-f:]{17})/.exec(lab.exec("luna", "ip", ["link", "show", lab.luna.iface]))![1];
        sendMalformed(lab, mac);
        // One more request after the malformed frames: they were read by then (one receive path, in order).
        const last = await curlGet(lab, `${url}/bytes/10`, 10);
        assertEquals(last.bytes, 10);

        const { report } = await stopLuna(srv);
        const port = report.stack.port!;
        const why = JSON.stringify({ port, ip: report.stack.ip });
        assertEquals(report.appStats.failed, 0);
        assertEquals(report.stack.zone.inUse, 0, "every packet buffer is back in the zone");
        // Large segments went out whole (the kernel cut them) and came in whole (GSO packets, as LRO).
        assert(port.txSegPackets > 0, `large segments sent: ${why}`);
        assertEquals(port.txSegSegments, 0, "the shim cut nothing: the kernel did");
        assert(port.rxLroPackets > 0, `GSO packets received: ${why}`);
        // Most came as chains of buffers; a GSO packet of a few small segments fits in one.
        assert(port.rxChains > 0, why);
        assertEquals([port.rxVnetDropped, port.oerrors, port.txInvalidRefused], [0, 0, 0], why);
        const malformed = report.stack.ip.malformed as Record<string, number>;
        assertEquals([malformed.tcpBadChecksum, malformed.truncated], [1, 1], why);
      } finally {
        killLuna(srv);
        lab.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
    { timeoutMs: 180_000 },
  );

  test("a missing interface is one error naming it; coexist is refused, naming the field", async () => {
    const prefix = uniquePrefix("packet-missing");
    try {
      const e = await createStack({
        device: "packet:nosuch0",
        address: "198.18.9.2/24",
        eal: { prefix },
      }).then(() => undefined, (x) => x as Error);
      assert(e instanceof NoSuchPortError, String(e));
      assertStringIncludes(e.message, "no interface 'nosuch0'");
      assertEquals(e.message.trim().split("\n").length, 1, e.message);
      const c = await createStack({ device: "packet:lo", coexist: true, eal: { prefix } }).then(
        () => undefined,
        (x) => x as Error,
      );
      assert(c instanceof ConfigError, String(c));
      assertEquals(c.field, "coexist");
      assertStringIncludes(c.message, "use af_packet:IFACE");
    } finally {
      removeEalFiles(prefix);
    }
  });
});
