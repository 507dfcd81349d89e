/**
 * Forwarding benchmark: 64-byte frames bounce between a generator
 * (dpdk-testpmd, io mode, pinned to CPU 0) and a forwarder over net_memif
 * between two processes. The forwarder, pinned to CPU 1, is either
 * dpdk-testpmd in macswap mode (C) or bench/forwarder.ts (TypeScript on Bun
 * or Deno, doing the same job through luna-ts). The generator's receive rate
 * is the forwarder's rate.
 *
 * @module
 */
import { rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { median, onCleanup, Proc, removeEalFiles, sleep } from "./_proc.ts";

export interface ForwardResult {
  config: string;
  /** Frame size, bytes (64, or 1500: the link's limit at full-size frames). */
  frameBytes: number;
  runtime: string;
  rounds: number[];
  /** Median over the rounds. */
  pps: number;
  /** Best round: the forwarder's capacity, least disturbed by the closed loop's dynamics. */
  ppsMax: number;
}

const forwarderScript = fileURLToPath(new URL("./forwarder.ts", import.meta.url));
const bin = (name: string) => fileURLToPath(new URL(`../node_modules/.bin/${name}`, import.meta.url));

const eal = (prefix: string, lcores: string, vdev: string) => [
  "--no-huge", "-m", "512", "--no-pci", "--no-telemetry", "--file-prefix", prefix, `--lcores=${lcores}`, `--vdev=${vdev}`,
];

type Forwarder = "testpmd" | "bun" | "deno";

function startForwarder(kind: Forwarder, prefix: string, socket: string, seconds: number): Proc {
  if (kind === "testpmd") {
    return new Proc("dpdk-testpmd", [
      ...eal(prefix, "0@1,1@1", `net_memif0,role=client,socket=${socket},socket-abstract=no`),
      "--", "--forward-mode=macswap", "--auto-start", "--stats-period", "1", "--total-num-mbufs=16384",
    ]);
  }
  const args = kind === "bun"
    ? [bin("bun"), forwarderScript, prefix, socket, String(seconds)]
    : [bin("deno"), "run", "-A", forwarderScript, prefix, socket, String(seconds)];
  return new Proc("taskset", ["-c", "1", ...args]);
}

async function round(kind: Forwarder, measureS: number, tag: string, frameBytes = 64): Promise<number> {
  const socket = `/tmp/luna-bench-${process.pid}-${tag}.sock`;
  const gp = `luna-bench-gen-${process.pid}-${tag}`;
  const fp = `luna-bench-fwd-${process.pid}-${tag}`;
  const removeFiles = () => {
    removeEalFiles(gp);
    removeEalFiles(fp);
    rmSync(socket, { force: true });
  };
  removeFiles();
  const clean = onCleanup(removeFiles);
  // Line-buffered, so that each command's answer arrives when it is printed.
  const gen = new Proc("stdbuf", ["-oL", "dpdk-testpmd",
    ...eal(gp, "0@0,1@0", `net_memif0,role=server,socket=${socket},socket-abstract=no`),
    "--", "-i", "--total-num-mbufs=16384",
  ], { stdin: true });
  let fwd: Proc | undefined;
  try {
    await gen.waitFor(/testpmd> /);
    fwd = startForwarder(kind, fp, socket, measureS + 12);
    await fwd.waitFor(kind === "testpmd" ? /start packet forwarding/ : /READY/);
    // Wait for the memif link before injecting frames.
    for (let i = 0;; i++) {
      const from = gen.out.length;
      gen.send("show port info 0");
      const m = await gen.waitFor(/Link status: (up|down)/, from);
      if (m[1] === "up") break;
      if (i > 200) throw new Error("memif link did not come up");
      await sleep(50);
    }
    await sleep(300); // let the forwarder's first polls find the link up too
    gen.send("set fwd io");
    if (frameBytes !== 64) gen.send(`set txpkts ${frameBytes}`);
    gen.send(`start tx_first ${process.env.LUNA_BENCH_BURSTS ?? 16}`);
    await sleep(1000); // warm-up
    const sample = async () => {
      const from = gen.out.length;
      gen.send("show port stats 0");
      const m = await gen.waitFor(/RX-packets:\s+(\d+)/, from);
      return { at: performance.now(), rx: Number(m[1]) };
    };
    const a = await sample();
    await sleep(measureS * 1000);
    const b = await sample();
    gen.send("stop");
    gen.send("quit");
    if (b.rx === a.rx) throw new Error(`${kind}: no frames came back; forwarder output:\n${fwd.out.slice(-2000)}`);
    return ((b.rx - a.rx) * 1000) / (b.at - a.at);
  } finally {
    await fwd?.stop("SIGINT");
    await gen.stop("SIGINT");
    clean();
  }
}

/** Runs each forwarder `rounds` times, interleaved, and returns the medians. */
export async function forwardBench(
  options: {
    rounds: number;
    measureS: number;
    only?: string[];
    onProgress?: (msg: string) => void;
    /** Also dpdk-testpmd alone at these frame sizes (1500: the link's limit at full-size frames). */
    testpmdSizes?: number[];
  },
): Promise<ForwardResult[]> {
  const kinds: Forwarder[] = (["testpmd", "bun", "deno"] as const).filter((k) =>
    options.only === undefined || options.only.includes(k)
  );
  const results = new Map<Forwarder, number[]>(kinds.map((k) => [k, []]));
  const sizes = options.testpmdSizes ?? [];
  const big = new Map<number, number[]>(sizes.map((n) => [n, []]));
  for (let r = 0; r < options.rounds; r++) {
    for (const kind of kinds) {
      options.onProgress?.(`forward64: ${kind} round ${r + 1}/${options.rounds}`);
      results.get(kind)!.push(await round(kind, options.measureS, `${kind}${r}`));
    }
    for (const n of sizes) {
      options.onProgress?.(`forward${n}: testpmd round ${r + 1}/${options.rounds}`);
      big.get(n)!.push(await round("testpmd", options.measureS, `testpmd${n}-${r}`, n));
    }
  }
  return [
    ...kinds.map((kind) => ({
      config: kind === "testpmd" ? "testpmd-memif" : `luna-${kind}-memif`,
      frameBytes: 64,
      runtime: kind === "testpmd" ? "c" : kind,
      rounds: results.get(kind)!,
      pps: median(results.get(kind)!),
      ppsMax: Math.max(...results.get(kind)!),
    })),
    ...sizes.map((n) => ({
      config: "testpmd-memif",
      frameBytes: n,
      runtime: "c",
      rounds: big.get(n)!,
      pps: median(big.get(n)!),
      ppsMax: Math.max(...big.get(n)!),
    })),
  ];
}
