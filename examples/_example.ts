/**
 * What the examples share: their command line (`--device SPEC --address CIDR
 * [--mode batch|inline] [--prefix NAME]` and their own options), the stack it
 * describes, and a clean stop on SIGINT or SIGTERM.
 *
 * Without `--address` a stack on a kernel interface (`af_packet:IF`) shares
 * the interface and its address with the kernel (coexistence); with one, it
 * owns the interface alone.
 *
 * @module
 */
import { createStack, type Stack } from "../src/mod.ts";

/** The options of an example's command line, by name (without the dashes). */
export type ExampleArgs = Record<string, string>;

/**
 * Reads `--name value` pairs; `required` names must be there. A bad command
 * line prints the usage and exits with status 2.
 */
export function exampleArgs(usage: string, required: string[] = ["device"]): ExampleArgs {
  const argv = process.argv.slice(2);
  const out: ExampleArgs = {};
  const fail = (why: string): never => {
    console.error(`${why}\nusage: ${usage}`);
    process.exit(2);
  };
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith("--") || argv[i + 1] === undefined) fail(`bad argument '${argv[i]}'`);
    out[argv[i].slice(2)] = argv[i + 1];
  }
  for (const r of required) if (out[r] === undefined) fail(`--${r} is required`);
  if (out.mode !== undefined && out.mode !== "batch" && out.mode !== "inline") {
    fail(`--mode: '${out.mode}' is not batch or inline`);
  }
  return out;
}

/** The stack the arguments describe (a small zone: examples are not benchmarks). */
export function exampleStack(a: ExampleArgs): Promise<Stack> {
  return createStack({
    device: a.device,
    address: a.address,
    coexist: a.address === undefined,
    mode: (a.mode ?? "batch") as "batch" | "inline",
    buffers: 4095,
    eal: { prefix: a.prefix ?? `luna-example-${process.pid}`, memoryMb: 256 },
  });
}

/** Runs the stack's loop until SIGINT or SIGTERM, then `onStop` and a clean close. */
export async function runUntilSignal(stack: Stack, onStop?: () => void | Promise<void>): Promise<void> {
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await onStop?.();
    await stack.close(1000);
    process.exit(0);
  };
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
  await stack.run();
}
