// Provokes one family of DPDK errors in a fresh process and reports what was
// thrown. Usage: eal_errors.ts CASE PREFIX
import { Offload } from "../../ffi/mod.ts";
import { Dpdk } from "../../src/device/dpdk/mod.ts";

const [which, prefix] = process.argv.slice(2);

function describe(e: unknown): Record<string, unknown> {
  if (!(e instanceof Error)) return { thrown: String(e) };
  return { name: e.name, code: (e as { code?: string }).code, message: e.message };
}

async function attempt(f: () => unknown): Promise<Record<string, unknown>> {
  try {
    await f();
    return { ok: true };
  } catch (e) {
    return describe(e);
  }
}

const out: Record<string, unknown> = { case: which };
switch (which) {
  case "bad-args": {
    out.bad = await attempt(() =>
      Dpdk.start(["luna", "--file-prefix", prefix, "--no-huge", "--no-pci", "--no-such-eal-option"])
    );
    out.retry = await attempt(() => Dpdk.start({ prefix }));
    break;
  }
  case "second-init": {
    const d = await Dpdk.start({ prefix });
    const zone = d.createZone("early", { count: 255, cache: 0 });
    out.second = await attempt(() => Dpdk.start({ prefix: prefix + "b" }));
    d.close();
    out.afterClose = await attempt(() => d.createZone("late"));
    // The pool's memory is gone: the zone says so instead of reading it.
    out.zoneAfterClose = await attempt(() => zone.accounting());
    out.rawAfterClose = d.shim.symbols.luna_pool_avail(zone.pool);
    break;
  }
  case "no-port": {
    const d = await Dpdk.start({ prefix });
    out.portCount = d.portCount;
    out.byId = await attempt(() => d.port(7));
    out.byName = await attempt(() => d.port("net_nothing_here"));
    out.attach = await attempt(() => d.attach("net_bogus0,foo=bar"));
    d.close();
    break;
  }
  case "exhausted": {
    const d = await Dpdk.start({ prefix });
    const zone = d.createZone("tiny", { count: 63, cache: 0, localCache: 16 });
    const taken: number[] = [];
    let error: Record<string, unknown> = { ok: true };
    for (let i = 0; i < 1000; i++) {
      try {
        taken.push(zone.take());
      } catch (e) {
        error = describe(e);
        break;
      }
    }
    out.taken = taken.length;
    out.distinct = new Set(taken).size;
    out.error = error;
    out.inUseFull = zone.accounting().inUse;
    const bulk = new Uint32Array(8);
    out.bulk = await attempt(() => zone.takeBulk(bulk, 8));
    for (const h of taken) zone.release(h);
    out.doubleRelease = await attempt(() => zone.release(taken[0]));
    out.notAHandle = await attempt(() => zone.release(12345));
    zone.flush();
    out.after = zone.accounting();
    out.badPool = await attempt(() => d.createZone("huge", { count: 1 << 24, dataRoom: 65535 }));
    d.close();
    break;
  }
  case "offload": {
    const d = await Dpdk.start({ prefix });
    const zone = d.createZone("z", { count: 255, cache: 0 });
    const [a] = d.ringPair("off");
    out.offered = a.describe().txOffloads;
    out.tcpCksum = await attempt(() => a.configure({ zone, txOffloads: Offload.tcpCksum }));
    out.queues = await attempt(() => a.configure({ zone, rxQueues: 4 }));
    out.badRing = await attempt(() => a.configure({ zone, rxDesc: 0 }));
    out.startUnconfigured = await attempt(() => d.ringPair("off2")[0].start());
    d.close();
    break;
  }
  default:
    out.error = `unknown case ${which}`;
}
console.log("RESULT " + JSON.stringify(out));
