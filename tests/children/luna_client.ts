// luna as a TCP client: connects through af_packet to an echo server that the
// kernel's TCP runs in the peer namespace, sends BYTES random bytes, reads
// them back through zero-copy views, checks every byte, and closes.
// Usage: luna_client.ts PREFIX IFACE CIDR SERVER_IP PORT BYTES MODE [FAULTS]
//   IFACE   an interface for af_packet, or a whole device spec (af_xdp:IFACE)
//   FAULTS  as `luna serve --faults` takes them (loss=0.01,...,seed=N), or "-"
import { randomBytes } from "node:crypto";
import { parseFaults } from "../../src/cli/args.ts";
import type { StackConfigInput } from "../../src/api/config.ts";
import { createStack } from "../../src/mod.ts";

const [prefix, iface, cidr, serverIp, portArg, bytesArg, mode, faultsArg] = process.argv.slice(2);
const total = Number(bytesArg);
const data = new Uint8Array(randomBytes(total));
const faults = faultsArg !== undefined && faultsArg !== "-" ? parseFaults(faultsArg) : undefined;
const stack = await createStack({
  device: iface.includes(":") ? iface : `af_packet:${iface}`,
  address: cidr,
  mode: mode as "batch" | "inline",
  eal: { prefix },
  ...(faults !== undefined ? { faults: faults as StackConfigInput["faults"] } : {}),
});

let sent = 0;
let got = 0;
let firstBad = -1;
let opened = false;
let ended = false;
let closed = false;
let error: string | undefined;
const t0 = performance.now();
let tOpen = 0;

function pump(c: import("../../src/mod.ts").Connection): void {
  while (sent < total) {
    const n = c.write(data.subarray(sent, Math.min(total, sent + 65536)));
    sent += n;
    if (n === 0) return; // onWritable follows
  }
}

const conn = stack.connect(serverIp, Number(portArg), {
  onOpen(c) {
    opened = true;
    tOpen = performance.now();
    pump(c);
  },
  onWritable: pump,
  onData(c) {
    for (let v = c.peek(); v.length > 0; v = c.peek()) {
      for (let i = 0; i < v.length && firstBad < 0; i++) if (v[i] !== data[got + i]) firstBad = got + i;
      got += v.length;
      c.consume(v.length);
    }
    if (got >= total) c.close();
  },
  onEnd() {
    ended = true;
  },
  onClose(_c, e) {
    closed = true;
    error = e;
  },
});

const ok = await stack.runUntil(() => closed, Number(process.env.LUNA_INTEROP_CLIENT_MS ?? 60_000));
const seconds = (performance.now() - tOpen) / 1000;
const connStats = conn.stats();
const stats = stack.stats();
await stack.close();
console.log(
  "RESULT " + JSON.stringify({
    ok,
    opened,
    ended,
    closed,
    error,
    sent,
    got,
    firstBad,
    seconds,
    faultSeed: faults?.seed,
    connectMs: tOpen - t0,
    conn: connStats,
    tcp: stats.tcp,
    zone: stats.zone,
  }),
);
process.exit(0);
