#!/usr/bin/env bun
/**
 * The `luna` command: `luna serve echo|http|discard --device SPEC --address
 * CIDR [options]`, `luna setup` (builds the shim), `luna --help`, `luna --version`. Runs under Bun
 * (`bun src/cli/main.ts`, or the `luna` bin of the package), under Deno
 * (`deno run -A src/cli/main.ts`), and compiled (`make luna` → dist/luna).
 *
 * @module
 */
import { lunaVersion } from "../../ffi/_locate.ts";
import { parseArgs, usage, UsageError } from "./args.ts";
import { formatReport, serve } from "./serve.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;
const argv: string[] = typeof g.Deno !== "undefined" ? [...g.Deno.args] : process.argv.slice(2);

async function main(): Promise<number> {
  if (argv[0] === "setup") {
    // Builds the shim from the package's C sources (see ffi/setup.ts).
    const { buildShim } = await import("../../ffi/setup.ts");
    try {
      const path = await buildShim({ log: (line) => console.log(`luna: ${line}`) });
      console.log(`luna: the shim is ready: ${path}`);
      return 0;
    } catch (e) {
      console.error(`luna: ${e instanceof Error ? e.message : String(e)}`);
      return 1;
    }
  }
  let cmd;
  try {
    cmd = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`luna: ${e.message}`);
    return 2;
  }
  if (cmd.kind === "help") {
    console.log(usage);
    return 0;
  }
  if (cmd.kind === "version") {
    console.log(
      `luna ${lunaVersion} (luna-ts; ${
        typeof g.Bun !== "undefined" ? `bun ${g.Bun.version}` : `deno ${g.Deno.version.deno}`
      })`,
    );
    return 0;
  }
  try {
    const report = await serve(cmd.options);
    console.log(formatReport(report));
    if (cmd.options.json) console.log(JSON.stringify(report));
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`luna: ${e.message}`);
      return 2;
    }
    console.error(`luna: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    return 1;
  }
}

process.exit(await main());
