/**
 * Workload "lossyrpc" (issue 14): storage-shaped RPC through random loss, the
 * tail a storage client feels. The C client (bench/c/echo_client.c, storage
 * mode) in the client's namespace keeps 16 connections in a closed loop, each
 * sending a 64-byte request and reading a 64 KiB answer, through the router of
 * bench/lossy.ts (iptables random loss in its FORWARD chain both ways, with and
 * without the 200 Mbit/s tbf; LUNA_LOSSY_RATES / LUNA_LOSSY_TBF pick a subset).
 *
 * - luna-ts: bench/luna_server.ts (its storage service, port 11) on the
 *   server's veth, default gateway the router: on net_af_packet (every veth's
 *   offloads off) and on `packet:` (offloads on), each in a network of its own
 *   as in bench/lossy.ts (LUNA_LOSSY_DEVICES picks them).
 * - kernel: the C epoll server (bench/c/epoll_server.c, storage on PORT+4 =
 *   11), the kernel at its best, with the server's address on the same veth,
 *   in each of the two networks (c-kernel-routed, c-kernel-routed-offloads).
 *
 * One server at a time holds the address; the order alternates by round. At
 * each loss rate the client warms up, then measures: ops/s and the completion
 * time of each request (request sent to the answer's last byte read): p50,
 * p99, p999. Metrics `rpc_ops_per_s_loss1`, `rpc_p99_us_loss1` (`_tbf_` with
 * the rate limit), ...; the ratio luna-ts / kernel of a latency is better
 * below 1 (the goal: p99 at most the kernel's). The notes keep the client's
 * kernel loss-recovery counters at each rate (`client`: probes and timeouts
 * of its requests): a lost request is the client's to repair, and Linux's
 * probe of one segment in flight waits its 200 ms minimum RTO, so at 1% loss
 * and more both servers' p99 sits near 200 ms whatever the server does.
 *
 * @module
 */
import {
  inLossyNet,
  kernelCounters,
  lossyDevices,
  lossyPick,
  type Net as LossyNet,
  pctName,
  serverAddr,
  shape,
  tbfMbit,
} from "./lossy.ts";
import { onCleanup, Proc, removeEalFiles } from "./_proc.ts";
import {
  type Body,
  buildEpollServer,
  cClient,
  type Ctx,
  lunaServer,
  type Mode,
  nsExec,
  quit,
  requestBytes,
  type Sample,
  serverCpu,
  startLuna,
} from "./tcp.ts";
import { sh } from "./_net.ts";

/** Connections of the closed loop, answer size, and the storage service's port. */
const conns = 16;
const answerBytes = 65536;
const storagePort = 11;

/** The metric of one figure at one loss rate (and rate limit). */
export const lossyRpcMetric = (
  name: "ops_per_s" | "p50_us" | "p99_us" | "p999_us",
  tbf: boolean,
  loss: number,
) => `rpc${tbf ? "_tbf" : ""}_${name}_loss${pctName(loss)}`;

/** The terminal's progress line of a lossyrpc sample. */
export function describeLossyRpc(s: Sample): string {
  const parts: string[] = [];
  for (const tbf of lossyPick.tbf) {
    for (const loss of lossyPick.rates) {
      const ops = s.metrics[lossyRpcMetric("ops_per_s", tbf, loss)];
      const p99 = s.metrics[lossyRpcMetric("p99_us", tbf, loss)];
      parts.push(
        `${pctName(loss)}%${tbf ? ` ${tbfMbit}M` : ""}: ` +
          (ops === undefined ? "FAILED" : `${ops.toFixed(0)} op/s p99 ${(p99 / 1000).toFixed(1)} ms`),
      );
    }
  }
  return parts.join("; ");
}

/** The client at every loss rate against the server now holding the address. */
async function rpcs(
  ctx: Ctx,
  net: LossyNet,
  failed: string[],
  client: Record<string, Record<string, number>>,
): Promise<Record<string, number>> {
  const metrics: Record<string, number> = {};
  const timing = { warmup: Math.max(0.5, ctx.o.warmupS), duration: Math.max(2, ctx.o.measureS) };
  const args = [
    ...["--mode", "storage", "--addr", serverAddr, "--port", String(storagePort)],
    ...["--size", String(requestBytes), "--resp", String(answerBytes), "--conns", String(conns)],
    ...["--warmup", String(timing.warmup), "--duration", String(timing.duration)],
  ];
  try {
    for (const tbf of lossyPick.tbf) {
      for (const loss of lossyPick.rates) {
        shape(net, loss, tbf);
        const what = `loss ${pctName(loss)}%${tbf ? ` ${tbfMbit} Mbit/s` : ""}`;
        const before = kernelCounters(net.client);
        try {
          const r = await cClient(net.client, args, timing.warmup + timing.duration + 30);
          const after = kernelCounters(net.client);
          const d: Record<string, number> = { requests: Number(r.requests) };
          for (const k of Object.keys(after)) d[k] = after[k] - (before[k] ?? 0);
          client[`${tbf ? "tbf_" : ""}loss${pctName(loss)}`] = d;
          if (Number(r.errors) > 0) throw new Error(`${r.errors} answers with wrong bytes or lengths`);
          if (!(Number(r.requests) > 0)) throw new Error("no request answered in the measured stretch");
          metrics[lossyRpcMetric("ops_per_s", tbf, loss)] = Number(r.req_per_s);
          metrics[lossyRpcMetric("p50_us", tbf, loss)] = Number(r.p50_ns) / 1000;
          metrics[lossyRpcMetric("p99_us", tbf, loss)] = Number(r.p99_ns) / 1000;
          metrics[lossyRpcMetric("p999_us", tbf, loss)] = Number(r.p999_ns) / 1000;
        } catch (e) {
          failed.push(`${what}: ${String((e as Error)?.message ?? e).split("\n")[0]}`);
        }
      }
    }
  } finally {
    shape(net, 0, false);
  }
  if (Object.keys(metrics).length === 0) throw new Error(`no measurement finished: ${failed[0] ?? "?"}`);
  return metrics;
}

/** One round of the lossyrpc workload: per device, luna-ts and the kernel, one after the other (alternating order). */
export async function lossyRpcRound(ctx: Ctx, id: string): Promise<void> {
  for (const device of lossyDevices) await lossyRpcDeviceRound(ctx, id, device);
}

async function lossyRpcDeviceRound(ctx: Ctx, id: string, device: "af_packet" | "packet"): Promise<void> {
  const mode: Mode = ctx.o.modes[0] ?? "batch";
  const lunaConfig = device === "packet" ? `luna-packet-${mode}` : `luna-afpacket-${mode}`;
  const kernelConfig = device === "packet" ? "c-kernel-routed-offloads" : "c-kernel-routed";
  const epollServer = buildEpollServer();
  const configs = { luna: lunaConfig, kernel: kernelConfig };
  await inLossyNet(ctx, id, device, "lossyrpc", conns, configs, async (n, side, order): Promise<Body> => {
    const failed: string[] = [];
    const client: Record<string, Record<string, number>> = {};
    const notes: Record<string, unknown> = { order: order.join(","), client };
    let metrics: Record<string, number>;
    if (side === "luna") {
      const prefix = `luna-bench-${process.pid}-lrpc${ctx.round}`;
      const clean = onCleanup(() => removeEalFiles(prefix));
      removeEalFiles(prefix);
      const server = await startLuna(lunaServer, ["ip", ...nsExec(n.server, serverCpu, [])], {
        device: `${device}:${n.serverIface}`,
        address: `${serverAddr}/24`,
        gateway: "198.18.41.1",
        mode,
        prefix,
        lcores: `0@${serverCpu}`,
        lifetimeS: 120 + lossyPick.rates.length * lossyPick.tbf.length * 60,
      });
      try {
        metrics = await rpcs(ctx, n, failed, client);
      } finally {
        await quit(server, 10_000);
        const result = server.stdout.match(/^RESULT (.*)$/m);
        if (result) notes.server = JSON.parse(result[1]);
        removeEalFiles(prefix);
        clean();
      }
    } else {
      sh("ip", ["-n", n.server, "addr", "add", `${serverAddr}/24`, "dev", n.serverIface]);
      sh("ip", ["-n", n.server, "route", "add", "default", "via", "198.18.41.1"]);
      const server = new Proc("ip", nsExec(n.server, serverCpu, [epollServer, serverAddr, "7"]), {
        stdin: true,
      });
      try {
        await server.waitFor(/READY/, 0, 20_000, "stdout");
        metrics = await rpcs(ctx, n, failed, client);
      } finally {
        await quit(server);
        sh("ip", ["-n", n.server, "addr", "flush", "dev", n.serverIface]);
      }
    }
    if (failed.length > 0) notes.why = failed.join("; ");
    return { metrics, notes };
  });
}
