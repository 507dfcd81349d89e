// Stream semantics of luna-ts's node:net against node's own. Every scenario of
// tests/children/node_compat_streams.mjs (writes, half-closes, pauses,
// timeouts, resets, destroys) runs three times: under /usr/bin/node over the
// kernel's loopback (node's own record, once for the file), over luna-ts (two
// stacks on the in-memory link, loops running, in this process), and over
// this runtime's node:net on the kernel's loopback (in this process). luna-ts
// must observe exactly what node observes: the same events in the same order,
// the same bytes, the same counters and error codes. The runtime's own
// node:net must too, except where it is known to differ from node: those
// differences are listed below and asserted as they are, so that a runtime
// that changes shows up here.
import { assertEquals } from "@std/assert";
import { connect, createServer } from "../src/api/net.ts";
import { createHeapZone, createMemoryLink, createStack } from "../src/mod.ts";
import { childScript, explain, runChild } from "./child.ts";
import {
  kernelTransport,
  type Listener,
  type Record as SideRecord,
  runScenario,
  scenarios,
  type Sock,
  type Transport,
} from "./children/node_compat_streams.mjs";
import { describe, runtime, test } from "./harness.ts";

/** Two luna-ts stacks on the in-memory link, their loops running: clients on one, servers on the other. */
async function lunaTransport(): Promise<Transport> {
  const za = createHeapZone({ name: "a", count: 4096 });
  const zb = createHeapZone({ name: "b", count: 4096 });
  const [la, lb] = createMemoryLink({ zone: za, zoneB: zb });
  const a = await createStack({ device: la, address: "198.18.0.1/24" });
  const b = await createStack({ device: lb, address: "198.18.0.2/24" });
  void a.run();
  void b.run();
  let nextPort = 5000;
  return {
    name: "luna",
    serverHost: "198.18.0.2",
    listen(options, onSocket) {
      const events: string[] = [];
      const server = createServer(b, { allowHalfOpen: options.allowHalfOpen ?? false }, (s) => {
        events.push("connection");
        onSocket(s as unknown as Sock);
      });
      server.on("close", () => events.push("close"));
      server.on("error", (e: Error & { code?: string }) => events.push(`error ${e.code}`));
      const port = nextPort++;
      return new Promise<Listener>((resolve) => {
        server.listen(port, () => {
          events.push("listening");
          resolve({
            port,
            events,
            close: () => void server.close(),
            getConnections: () => new Promise((r) => server.getConnections((_e, n) => r(n))),
          });
        });
      });
    },
    connect(port, options = {}) {
      const s = connect(a, { port, host: "198.18.0.2", allowHalfOpen: options.allowHalfOpen });
      return s as unknown as Sock;
    },
    closedPort: () => Promise.resolve(nextPort++),
    async dispose() {
      await a.close(200);
      await b.close(200);
    },
  };
}

/**
 * Where this runtime's node:net on the kernel's TCP observes something other
 * than node does, scenario by scenario: what it observes instead, on the
 * sides that differ. luna-ts follows node, not these.
 */
const runtimeDeviations: { [rt: string]: { [scenario: string]: { why: string; record: SideRecord } } } = {
  bun: {
    "destroy() with everything read: no more events but 'close'; the peer sees a FIN": {
      why: "Bun's net.Socket emits 'end' after destroy() (node emits nothing but 'close')",
      record: {
        client: [
          "connect",
          "ready",
          "data 4",
          "[destroyed true]",
          "end",
          "close",
          "bytesRead 4, bytesWritten 4",
          "sha256 9795c5ff8937f235",
        ],
      },
    },
    "resetAndDestroy(): the peer gets ECONNRESET": {
      why: "Bun's net.Socket emits 'end' on the side that calls resetAndDestroy() (node does not)",
      record: {
        server: ["data 4", "end", "close", "bytesRead 4, bytesWritten 0", "sha256 758d61f26a444483"],
      },
    },
  },
  deno: {},
};

let nodeRecords: Promise<{ [name: string]: SideRecord | string }> | undefined;
/** node's own records, from one run of /usr/bin/node over the kernel's loopback. */
function nodeRecord(name: string): Promise<SideRecord | string> {
  nodeRecords ??= runChild(childScript("node_compat_streams.mjs"), [childScript("node_compat_streams.mjs")], {
    program: "node",
    timeoutMs: 60_000,
  }).then((r) => {
    if (r.code !== 0 || r.result === undefined) throw new Error(`node's run failed: ${explain(r)}`);
    return r.result as { [name: string]: SideRecord | string };
  });
  return nodeRecords.then((all) => all[name]);
}

describe("node:net stream semantics: luna-ts against node", () => {
  for (const name of Object.keys(scenarios)) {
    test(name, async () => {
      const node = await nodeRecord(name);
      const luna = await runScenario(name, lunaTransport);
      const kernel = await runScenario(name, kernelTransport);
      assertEquals(luna, node, `luna-ts against node (${runtime})`);
      const deviation = runtimeDeviations[runtime][name];
      if (deviation === undefined) {
        assertEquals(kernel, node, `${runtime}'s node:net on the kernel against node`);
      } else {
        assertEquals(
          kernel,
          { ...(node as SideRecord), ...deviation.record },
          `${runtime}: ${deviation.why}`,
        );
      }
    }, { timeoutMs: 60_000 });
  }
});
