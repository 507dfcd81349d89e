// ECN over a real DPDK port: a DCTCP transfer between two luna-ts processes
// over memif, the sender's fault injector marking CE at random on its way
// out, the receiver coalescing what it receives (the shim's GRO, on by
// default over memif). A CE mark must reach TCP as a segment of its own: a
// merged packet has one ECN field, so merging a mark with unmarked segments
// would lose it or give it to bytes that were not marked (RFC 3168 6.1.3,
// RFC 8257 3.2).
import { assert, assertEquals } from "@std/assert";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { Child, removeEalFiles, resultOf, runChild, tempDir, uniquePrefix } from "./child.ts";
import { describe, test } from "./harness.ts";

describe("ECN over memif", () => {
  test("every CE mark reaches the receiver's TCP: the shim's GRO never merges a marked frame", async () => {
    const bytes = 10_000_000;
    const dir = tempDir("ecn");
    const socket = join(dir, "memif.sock");
    const sp = uniquePrefix("ecn-srv");
    const cp = uniquePrefix("ecn-cli");
    const server = new Child("ecn_memif.ts", ["server", sp, socket, String(bytes), "0"], {
      timeoutMs: 120_000,
    });
    try {
      await server.waitFor(/^READY/, 60_000);
      const client = resultOf(
        await runChild("ecn_memif.ts", ["client", cp, socket, String(bytes), "0.2"], { timeoutMs: 120_000 }),
      );
      const srv = resultOf(await server.done());
      assertEquals([client.error, srv.error], [undefined, undefined]);
      assertEquals(srv.bytes, bytes);
      assertEquals([client.tcp.ecnConnections, srv.tcp.ecnConnections], [1, 1], "both ends agreed on ECN");
      // About one frame in five was marked. memif loses none, and what a loaded machine may make the
      // sender send again (a loss probe while the receiver is off the CPU) leaves Not-ECT, never marked.
      assert(client.ceMarked > 1000, `${client.ceMarked} frames marked`);
      assertEquals(srv.tcp.ceMarksIn, client.ceMarked, "each marked frame arrived as a segment of its own");
      // The unmarked frames were still coalesced.
      assert(
        srv.port.rxGroPackets > 0 && srv.port.rxGroSegments >= 2 * srv.port.rxGroPackets,
        JSON.stringify(srv.port),
      );
      assert(client.tcp.eceIn > 0);
    } finally {
      server.process.kill("SIGKILL");
      await server.done();
      removeEalFiles(sp);
      removeEalFiles(cp);
      rmSync(dir, { recursive: true, force: true });
    }
  }, { timeoutMs: 150_000 });
});
