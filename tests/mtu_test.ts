// The `mtu` setting: checked as configuration, carried to the DPDK port, the
// packet buffers, memif's buffers and TCP's MSS; jumbo frames between two
// luna-ts processes over memif; frames longer than the MTU counted and
// dropped. DPDK cases run in child processes, each on its own --file-prefix.
import {
  assert,
  assertEquals,
  assertInstanceOf,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, createHeapZone, createMemoryLink, createStack, parseStackConfig } from "../src/mod.ts";
import { parseArgs, UsageError, usageOfConfigError } from "../src/cli/args.ts";
import { serve } from "../src/cli/serve.ts";
import { dataRoomForChainedMtu, dataRoomForMtu } from "../src/device/dpdk/pool.ts";
import { memifBufferSize, parseDeviceSpec } from "../src/device/spec.ts";
import { Child, removeEalFiles, resultOf, runChild, tempDir, uniquePrefix } from "./child.ts";
import { describe, test } from "./harness.ts";

const memif = "memif:/tmp/luna-mtu-test.sock,server";
const address = "198.18.9.1/24";

function fieldOf(input: unknown): string {
  try {
    parseStackConfig(input);
  } catch (e) {
    assertInstanceOf(e, ConfigError);
    return e.field;
  }
  throw new Error(`the config was accepted: ${JSON.stringify(input)}`);
}

/**
 * A bulk transfer of `bytes` from a memif client to a memif server, each at its MTU ("-": the default),
 * through `faults` (StackConfig.faults, on both stacks) where given.
 */
async function bulk(serverMtu: string, clientMtu: string, bytes: number, faults?: object) {
  const env = faults !== undefined ? { LUNA_FAULTS: JSON.stringify(faults) } : undefined;
  const dir = tempDir("mtu");
  const socket = join(dir, "memif.sock");
  const sp = uniquePrefix("mtu-srv");
  const cp = uniquePrefix("mtu-cli");
  const server = new Child("mtu_bulk.ts", ["server", sp, socket, serverMtu, String(bytes), "sha256"], {
    timeoutMs: 120_000,
    env,
  });
  try {
    await server.waitFor(/^READY/, 60_000);
    const client = resultOf(
      await runChild("mtu_bulk.ts", ["client", cp, socket, clientMtu, String(bytes), "sha256"], {
        timeoutMs: 120_000,
        env,
      }),
    );
    return { server: resultOf(await server.done()), client };
  } finally {
    server.process.kill("SIGKILL");
    await server.done();
    removeEalFiles(sp);
    removeEalFiles(cp);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Sends frames of `lengths` over memif (the sender's port at `senderMtu`, which sizes the ring's
 * slots) to a port at `mtu`; returns what it received and counted.
 */
async function frames(mtu: number, lengths: number[], senderMtu = "9000") {
  const dir = tempDir("mtu-frames");
  const socket = join(dir, "memif.sock");
  const rp = uniquePrefix("mtu-rx");
  const sp = uniquePrefix("mtu-tx");
  const receiver = new Child("mtu_frames.ts", ["recv", rp, socket, String(mtu), lengths.join(",")], {
    timeoutMs: 60_000,
  });
  try {
    await receiver.waitFor(/^READY/, 30_000);
    const sender = resultOf(
      await runChild("mtu_frames.ts", ["send", sp, socket, senderMtu, lengths.join(",")], {
        timeoutMs: 60_000,
      }),
    );
    assertEquals(sender.got, [...lengths, 60], "the sender sent every frame and the end marker");
    return resultOf(await receiver.done());
  } finally {
    receiver.process.kill("SIGKILL");
    await receiver.done();
    removeEalFiles(rp);
    removeEalFiles(sp);
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("mtu", () => {
  test("a bad mtu is one ConfigError naming mtu", async () => {
    for (const mtu of [575, 65522, 65535, 1500.5, "9000", 0, -1]) {
      assertEquals(fieldOf({ device: memif, address, mtu }), "mtu", `mtu ${JSON.stringify(mtu)}`);
    }
    const e = await assertRejects(() => createStack({ device: memif, address, mtu: 70_000 }), ConfigError);
    assertEquals(e.field, "mtu");
    assertStringIncludes(e.message, "576..65521");
    // An MSS that does not fit the MTU names tcp.mss.
    assertEquals(fieldOf({ device: memif, address, mtu: 1500, tcp: { mss: 1461 } }), "tcp.mss");
    // Sharing the NIC with the kernel: the exception path runs at 1500 only.
    assertEquals(fieldOf({ device: "af_packet:veth0", mtu: 9000 }), "mtu");
    for (const mtu of [576, 1500, 9000, 9001, 65521]) parseStackConfig({ device: memif, address, mtu });
  });

  test("an mtu above 9000 is refused, naming mtu, where frames go in one buffer each", () => {
    // Kernel interfaces take frames of one buffer; memif chains buffers for longer ones.
    for (const device of ["af_packet:veth0", "af_xdp:veth0", "packet:veth0"]) {
      const config = { device, address, coexist: false, mtu: 65521 };
      const e = assertThrows(() => parseStackConfig(config), ConfigError);
      assertEquals(e.field, "mtu", device);
      assertStringIncludes(e.message, "at most 9000");
      assertStringIncludes(e.message, "memif");
      assert(!e.message.includes("\n"), "one line");
      parseStackConfig({ ...config, mtu: 9000 });
    }
    // The pcap tap takes frames of one buffer too; the fault injector takes a chain as one frame.
    const faults = { seed: 1, loss: 0.01 };
    assertEquals(fieldOf({ device: memif, address, mtu: 65521, pcap: "/tmp/luna-mtu-test.pcap" }), "mtu");
    parseStackConfig({ device: memif, address, mtu: 9000, faults });
    assertEquals(parseStackConfig({ device: memif, address, mtu: 65521, faults }).mtu, 65521);
  });

  test("a device object at another MTU than the one asked is a ConfigError naming mtu", async () => {
    const [a] = createMemoryLink({ zone: createHeapZone({ count: 256 }), mtu: 1500 });
    const e = await assertRejects(() => createStack({ device: a, address, mtu: 9000 }), ConfigError);
    assertEquals(e.field, "mtu");
    assertStringIncludes(e.message, "runs at 1500");
  });

  test("TCP announces mtu - 40 by default, what tcp.mss says otherwise, and never more than a buffer holds", async () => {
    const big = createHeapZone({ count: 256, dataRoom: dataRoomForMtu(9000) });
    const [a, b] = createMemoryLink({ zone: big, mtu: 9000 });
    // 2176-byte buffers hold frames of 2048 bytes: the MSS follows them, not the link's 9000.
    const [c] = createMemoryLink({ zone: createHeapZone({ count: 256 }), mtu: 9000 });
    const [d] = createMemoryLink({ zone: createHeapZone({ count: 256 }) });
    const stacks = [
      await createStack({ device: a, address, mtu: 9000 }),
      await createStack({ device: b, address, tcp: { mss: 1400 } }),
      await createStack({ device: c, address }),
      await createStack({ device: d, address }),
    ];
    assertEquals(stacks.map((s) => s.tcp.config.mss), [8960, 1400, 2048 - 14 - 40, 1460]);
    for (const s of stacks) await s.close(0);
  });

  test("buffers and memif's bsize are sized from the MTU", () => {
    assertEquals([dataRoomForMtu(576), dataRoomForMtu(1500), dataRoomForMtu(2034)], [2176, 2176, 2176]);
    assertEquals(dataRoomForMtu(9000), 9152, "128 of headroom and a 9014-byte frame, in whole cache lines");
    assertEquals([memifBufferSize(1500), memifBufferSize(9000)], [2048, 9216]);
    // Above 9000 a frame is a chain of jumbo frames' buffers; memif's slot still holds it whole.
    assertEquals([dataRoomForChainedMtu(1500), dataRoomForChainedMtu(9000), dataRoomForChainedMtu(65521)], [
      2176,
      9152,
      9152,
    ]);
    assertEquals([memifBufferSize(30000), memifBufferSize(65521)], [30720, 65535]);
    assertEquals(parseDeviceSpec("memif:/m.sock,client", "device", { mtu: 65521 }).vdevs, [
      "net_memif0,role=client,socket=/m.sock,socket-abstract=no,bsize=65535",
    ]);
    assertEquals(parseDeviceSpec("memif:/m.sock,server").vdevs, [
      "net_memif0,role=server,socket=/m.sock,socket-abstract=no",
    ]);
    assertEquals(parseDeviceSpec("memif:/m.sock,client", "device", { mtu: 9000 }).vdevs, [
      "net_memif0,role=client,socket=/m.sock,socket-abstract=no,bsize=9216",
    ]);
  });

  test("luna serve --mtu N sets the MTU; a bad N is a usage error naming --mtu", () => {
    const base = ["serve", "echo", "--device", "memif:/m.sock,server", "--address", address];
    const cmd = parseArgs([...base, "--mtu", "9000"]);
    assert(cmd.kind === "serve");
    assertEquals(cmd.options.config.mtu, 9000);
    const plain = parseArgs(base);
    assert(plain.kind === "serve");
    assertEquals(plain.options.config.mtu, undefined);
    for (const bad of ["100", "65522", "jumbo"]) {
      assertEquals(assertThrows(() => parseArgs([...base, "--mtu", bad]), UsageError).arg, "--mtu");
    }
    assertEquals(usageOfConfigError(new ConfigError("mtu", "refused")).arg, "--mtu");
  });

  test("luna serve --mtu 65521: accepted on memif, a usage error naming --mtu on af_packet", async () => {
    const onMemif = parseArgs(
      ["serve", "echo", "--device", "memif:/m.sock,server", "--address", address, "--mtu", "65521"],
    );
    assert(onMemif.kind === "serve");
    assertEquals(parseStackConfig(onMemif.options.config).mtu, 65521);
    const onAfPacket = parseArgs(
      ["serve", "echo", "--device", "af_packet:veth0", "--address", address, "--no-coexist"].concat(
        ["--mtu", "65521"],
      ),
    );
    assert(onAfPacket.kind === "serve");
    // Refused while the configuration is checked, before any port opens.
    const e = await assertRejects(() => serve(onAfPacket.options, () => {}), UsageError);
    assertEquals(e.arg, "--mtu");
    assertStringIncludes(e.message, "at most 9000");
  });

  test("a PMD that refuses the MTU is a ConfigError naming mtu, with the PMD's limits", async () => {
    // Raw device arguments carry no knowledge of the device: DPDK 22.11's memif says 1518-byte frames at most.
    const dir = tempDir("mtu-raw");
    const prefix = uniquePrefix("mtu-raw");
    try {
      const config = {
        device: `eal:net_memif0,role=server,socket=${join(dir, "m.sock")},socket-abstract=no`,
        address,
        mtu: 9000,
        eal: { prefix },
      };
      const r = resultOf(await runChild("mtu_config.ts", [JSON.stringify(config)], { timeoutMs: 60_000 }));
      assertEquals([r.name, r.field], ["ConfigError", "mtu"], JSON.stringify(r));
      assertStringIncludes(r.message, "MTU 9000 refused");
      assertStringIncludes(r.message, "at most 1518 bytes");
    } finally {
      removeEalFiles(prefix);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("memif at MTU 9000: 50 MB arrive intact (SHA-256) in segments of 8960 bytes", async () => {
    const bytes = 50_000_000;
    const { server, client } = await bulk("9000", "9000", bytes);
    assertEquals(client.error, undefined);
    assertEquals(server.error, undefined);
    assertEquals([client.bytes, server.bytes], [bytes, bytes]);
    assertEquals(server.sha256, client.sha256, "the bytes received are the bytes sent");
    assertEquals([client.mtu, server.mtu], [9000, 9000]);
    assertEquals([client.sndMss, server.sndMss], [8960, 8960], "each side announced mtu - 40");
    // Frames above 1500 on the wire: the server's port took fewer, longer frames than 1460-byte segments need.
    const p = server.port;
    assert(p.ipackets < bytes / 8000, `${p.ipackets} frames for ${bytes} bytes`);
    assert(p.ibytes / p.ipackets > 8000, `average frame ${p.ibytes / p.ipackets} bytes`);
    assertEquals([p.rxOversizeDropped, p.rxMultisegDropped], [0, 0]);
    // Receive coalescing is on by default over memif: the shim's GRO merged in-order segments.
    assert(p.rxGroPackets > 0 && p.rxGroSegments >= 2 * p.rxGroPackets, JSON.stringify(p));
    // The sender's segments left as large ones, cut by the shim (GSO).
    assert(client.port.txSegPackets > 0 && client.port.txSegSegments > client.port.txSegPackets);
  }, { timeoutMs: 150_000 });

  test(
    "memif with one end at 9000 and the other at the default: MSS 1460 both ways, 5 MB intact",
    async () => {
      const bytes = 5_000_000;
      const { server, client } = await bulk("9000", "-", bytes);
      assertEquals([client.error, server.error], [undefined, undefined]);
      assertEquals([client.mtu, server.mtu], [1500, 9000]);
      assertEquals(server.sha256, client.sha256);
      assertEquals([client.sndMss, server.sndMss], [1460, 1460]);
      assertEquals(server.port.rxOversizeDropped, 0);
    },
    { timeoutMs: 150_000 },
  );

  test("memif at MTU 65521: 50 MB intact in 64 KiB segments of chained buffers, every buffer back", async () => {
    const bytes = 50_000_000;
    const { server, client } = await bulk("65521", "65521", bytes);
    assertEquals([client.error, server.error], [undefined, undefined]);
    assertEquals([client.closeError, server.closeError], [undefined, undefined]);
    assertEquals([client.bytes, server.bytes], [bytes, bytes]);
    assertEquals(server.sha256, client.sha256, "the bytes received are the bytes sent");
    assertEquals([client.mtu, server.mtu], [65521, 65521]);
    assertEquals([client.sndMss, server.sndMss], [65481, 65481], "each side announced mtu - 40");
    const p = server.port;
    // Frames of up to 65535 bytes, each a chain of the zone's 9 KiB buffers: a few hundred for 50 MB.
    assert(p.ipackets < bytes / 60_000, `${p.ipackets} frames for ${bytes} bytes`);
    assert(p.rxChains > bytes / 70_000, `${p.rxChains} chains`);
    assertEquals([p.rxOversizeDropped, p.rxMultisegDropped], [0, 0]);
    // Sent whole: nothing for the shim's GSO to cut.
    assertEquals(client.port.txSegSegments, 0);
    assertEquals([client.zoneInUse, server.zoneInUse], [0, 0], "every buffer back in each zone");
  }, { timeoutMs: 150_000 });

  test("memif at MTU 65521 through faults: 20 MB intact, chains lost, reordered and duplicated whole", async () => {
    const bytes = 20_000_000;
    const faults = { seed: 7, loss: 0.01, reorder: 0.02, reorderFrames: 2, duplicate: 0.01 };
    const { server, client } = await bulk("65521", "65521", bytes, faults);
    assertEquals([client.error, server.error], [undefined, undefined]);
    assertEquals([client.closeError, server.closeError], [undefined, undefined]);
    assertEquals([client.bytes, server.bytes], [bytes, bytes]);
    assertEquals(server.sha256, client.sha256, "the bytes received are the bytes sent");
    assertEquals([client.sndMss, server.sndMss], [65481, 65481], "each side announced mtu - 40");
    assert(server.port.rxChains > bytes / 70_000, `${server.port.rxChains} chains`);
    assert(client.tcp.retransSegs > 0, "nothing was lost");
    assertEquals([client.zoneInUse, server.zoneInUse], [0, 0], "every buffer back in each zone");
  }, { timeoutMs: 150_000 });

  const lengths = [1514, 1515, 2000, 3000, 9014, 9015, 9100, 60000];
  test("a port at MTU 1500 takes frames up to 1514 bytes; longer ones are counted and dropped", async () => {
    const r = await frames(1500, lengths);
    assertEquals(r.error, undefined);
    assertEquals(r.mtu, 1500);
    assertEquals(r.got, [1514]);
    // Every longer frame is too long for the MTU, whether it fits one buffer (1515, 2000) or arrives chained.
    assertEquals([r.stats.rxOversizeDropped, r.stats.rxMultisegDropped], [7, 0]);
  }, { timeoutMs: 90_000 });

  test("a port at MTU 9000 takes frames up to 9014 bytes; longer ones are counted and dropped", async () => {
    const r = await frames(9000, lengths);
    assertEquals(r.error, undefined);
    assertEquals(r.mtu, 9000);
    assertEquals(r.got, [1514, 1515, 2000, 3000, 9014]);
    assertEquals([r.stats.rxOversizeDropped, r.stats.rxMultisegDropped], [3, 0]);
  }, { timeoutMs: 90_000 });

  test("a port at MTU 65521 takes long frames as chains of its buffers, each in one memif slot", async () => {
    // After a frame longer than a jumbo frame, more small frames than the ring has slots (1024): a
    // slot a long frame once spanned from must not glue the small frame that reuses it to the next.
    const long = [1514, 9014, 9025, 30000, 65000, 65344];
    const r = await frames(65521, [...long, ...Array(1100).fill(100)], "65521");
    assertEquals(r.error, undefined);
    assertEquals(r.mtu, 65521);
    assertEquals(r.got, [...long, ...Array(1100).fill(100)]);
    assertEquals([r.stats.rxOversizeDropped, r.stats.rxMultisegDropped], [0, 0]);
    assertEquals(r.stats.rxChains, 4, "the frames longer than a 9 KiB buffer");
  }, { timeoutMs: 90_000 });
});
