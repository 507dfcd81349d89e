/**
 * The luna-ts demo: a private two-namespace network on this machine, the
 * `luna` HTTP server in one namespace (a user-space TCP/IP stack in
 * TypeScript, on DPDK's net_af_packet), and curl — on the Linux kernel's
 * TCP — in the other. It downloads and uploads 20 MB checked by SHA-256,
 * sends 32 clients at once, shows what the server counted, and removes the
 * network again (also on Ctrl-C or on failure). Needs root; about 10 s.
 *
 * Run: `make demo` (or, as root, `bun examples/demo.ts`).
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { patternSha256 } from "../src/apps/pattern.ts";
import { createLab, type Lab, removeStaleLabs, requireLabTools } from "../src/lab/netns.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;
const cli = fileURLToPath(new URL("../src/cli/main.ts", import.meta.url));
const runtime: [string, string[]] = typeof g.Bun !== "undefined"
  ? [process.execPath, [cli]]
  : [g.Deno.execPath(), ["run", "-A", cli]];
const prefix = "luna-demo";
const eal = `luna-demo-${process.pid}`;
const t0 = performance.now();

let lab: Lab | undefined;
let server: ChildProcess | undefined;
let serverOut = "";
const dir = mkdtempSync(join(tmpdir(), "luna-demo-"));

/** Removes everything the demo made; safe to call more than once, and never throws. */
function cleanup(): void {
  const steps = [
    () => {
      if (server !== undefined && server.exitCode === null && server.signalCode === null) {
        server.kill("SIGKILL");
      }
    },
    () => lab?.close(),
    () => rmSync(dir, { recursive: true, force: true }),
    () =>
      existsSync(`/var/run/dpdk/${eal}`) && rmSync(`/var/run/dpdk/${eal}`, { recursive: true, force: true }),
  ];
  for (const step of steps) {
    try {
      step();
    } catch (e) {
      console.error(`clean-up: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  lab = undefined;
}
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    console.log(`\n${sig}: removing the lab`);
    cleanup();
    process.exit(130);
  });
}

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
const mbit = (bytes: number, s: number) => `${((bytes * 8) / s / 1e6).toFixed(0)} Mbit/s`;
const short = (h: string) => `${h.slice(0, 16)}...`;

/** Runs a command in the client namespace; resolves with its stdout, rejects on failure or after timeoutMs. */
function client(cmd: string, args: string[], timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn("ip", ["netns", "exec", lab!.kernel.ns, cmd, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    p.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
    p.stderr!.setEncoding("utf8").on("data", (d: string) => (err += d));
    const timer = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} failed (${signal ?? `exit ${code}`}): ${err.trim() || out.slice(-500)}`));
    });
  });
}

function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

async function main(): Promise<void> {
  console.log(
    "luna-ts demo: an HTTP server on a TypeScript TCP/IP stack, judged by curl on the kernel's TCP\n",
  );
  requireLabTools(["ip", "ethtool", "curl"]);
  const stale = removeStaleLabs(prefix);
  if (stale.length > 0) console.log(`removed ${stale.length} namespace(s) an earlier demo left behind`);

  lab = createLab({ prefix });
  console.log("the lab: two network namespaces joined by a veth pair");
  console.log(
    `  server side  ${lab.luna.ns}: ${lab.luna.iface}, no kernel address; luna answers for ${lab.luna.ip}`,
  );
  console.log(
    `  client side  ${lab.kernel.ns}: ${lab.kernel.iface} ${lab.kernel.cidr}, the kernel's TCP, curl`,
  );
  console.log(
    "  (checksum and segmentation offloads off on both ends, so frames on the wire are complete)\n",
  );

  const args = [
    "serve",
    "http",
    "--device",
    `af_packet:${lab.luna.iface}`,
    "--address",
    lab.luna.cidr,
    "--port",
    "80",
    "--mode",
    "inline",
    "--prefix",
    eal,
  ];
  console.log(`starting: luna ${args.join(" ")}`);
  const tStart = performance.now();
  server = spawn("ip", ["netns", "exec", lab.luna.ns, runtime[0], ...runtime[1], ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  server.stdout!.setEncoding("utf8").on("data", (d: string) => (serverOut += d));
  server.stderr!.setEncoding("utf8").on("data", (d: string) => (serverOut += d));
  for (let i = 0; i < 3000 && !serverOut.includes("luna: serving"); i++) {
    if (server.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  if (!serverOut.includes("luna: serving")) throw new Error(`the server did not start:\n${serverOut}`);
  const ready = serverOut.split("\n").find((l) => l.startsWith("luna: serving"))!;
  console.log(`${ready}   (ready in ${((performance.now() - tStart) / 1000).toFixed(1)} s)\n`);
  const url = `http://${lab.luna.ip}`;

  // 1. A download, checked against the pattern computed here.
  const n = 20_000_000;
  const file = join(dir, "download.bin");
  const w1 = JSON.parse(
    await client("curl", ["-sS", "--fail", "-m", "30", "-o", file, "-w", "%{json}", `${url}/bytes/${n}`]),
  );
  const got = sha256(file);
  const want = patternSha256(n);
  console.log(`1. download  curl ${url}/bytes/${n}   (byte i of the body is i % 256)`);
  console.log(
    `   ${mb(w1.size_download)} in ${w1.time_total.toFixed(2)} s = ${
      mbit(w1.size_download, w1.time_total)
    }; ` +
      `sha256 ${short(got)} ${
        got === want ? "matches the pattern" : `DIFFERS from the pattern's ${short(want)}`
      }`,
  );
  if (got !== want) throw new Error("the download is not the pattern");

  // 2. An upload: the server hashes the body as it arrives, in place in the packet buffers.
  const up = join(dir, "upload.bin");
  writeFileSync(up, randomBytes(n));
  const local = sha256(up);
  const t2 = performance.now();
  const answer =
    (await client("curl", ["-sS", "--fail", "-m", "30", "--data-binary", `@${up}`, `${url}/sha256`])).trim();
  const s2 = (performance.now() - t2) / 1000;
  console.log(`2. upload    curl --data-binary @random-20MB ${url}/sha256`);
  console.log(
    `   ${mb(n)} in ${s2.toFixed(2)} s = ${mbit(n, s2)}; the server's sha256 ${short(answer)} ` +
      `${answer === local ? "matches ours" : `DIFFERS from ours ${short(local)}`}`,
  );
  if (answer !== local) throw new Error("the server hashed something else");

  // 3. Many clients at once: one curl, 32 connections in parallel.
  const clients = 32;
  const curlArgs = [
    "-sS",
    "--fail",
    "-m",
    "30",
    "-Z",
    "--parallel-max",
    String(clients),
    "--parallel-immediate",
    "-w",
    "%{http_code} %{size_download}\\n",
  ];
  for (let k = 0; k < clients; k++) {
    curlArgs.push("-o", join(dir, `burst-${k}.bin`), `${url}/bytes/${1_000_000 + k}`);
  }
  const t3 = performance.now();
  const rows = (await client("curl", curlArgs)).trim().split("\n");
  const s3 = (performance.now() - t3) / 1000;
  let good = 0;
  let bytes = 0;
  for (let k = 0; k < clients; k++) {
    const size = 1_000_000 + k;
    if (sha256(join(dir, `burst-${k}.bin`)) === patternSha256(size)) good++;
    bytes += size;
  }
  console.log(`3. burst     ${clients} clients at once, each GET /bytes/1000000+k`);
  console.log(
    `   ${good} of ${clients} bodies correct (${
      rows.filter((r) => r.startsWith("200 ")).length
    } answered 200); ` +
      `${mb(bytes)} in ${s3.toFixed(2)} s = ${mbit(bytes, s3)}`,
  );
  if (good !== clients) throw new Error("some parallel downloads were wrong");

  // 4. Small requests on one kept-alive connection.
  const requests = 200;
  const smallArgs = ["-sS", "--fail", "-m", "30", "-w", "%{num_connects}\\n"];
  for (let k = 0; k < requests; k++) smallArgs.push("-o", "/dev/null", `${url}/bytes/100`);
  const t4 = performance.now();
  const connects = (await client("curl", smallArgs)).trim().split("\n").reduce((a, r) => a + Number(r), 0);
  const s4 = (performance.now() - t4) / 1000;
  console.log(
    `4. keep-alive ${requests} requests of 100 bytes on ${connects} connection(s): ` +
      `${(requests / s4).toFixed(0)} requests/s (curl's own pace)\n`,
  );

  // Stop the server: SIGINT makes it close its connections and print what it counted.
  const exited = new Promise<number | null>((r) => server!.on("close", (code) => r(code)));
  process.kill(server.pid!, "SIGINT");
  const code = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 10_000))]);
  console.log("the server's own counters, printed as it stopped (Ctrl-C does the same):");
  const summary = serverOut.split("\n").filter((l) =>
    l.startsWith("luna: http served") || l.startsWith("  ")
  );
  console.log(summary.map((l) => `  ${l}`).join("\n"));
  if (code !== 0) throw new Error(`the server did not stop cleanly (exit ${code}):\n${serverOut}`);
}

let failed = false;
try {
  await main();
} catch (e) {
  failed = true;
  console.error(`\ndemo FAILED: ${e instanceof Error ? e.message : String(e)}`);
} finally {
  cleanup();
}
console.log(
  `\nthe lab is removed. ${failed ? "demo FAILED" : "demo OK"} in ${
    ((performance.now() - t0) / 1000).toFixed(1)
  } s`,
);
process.exit(failed ? 1 : 0);
