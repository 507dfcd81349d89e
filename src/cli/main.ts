#!/usr/bin/env bun
/**
 * The `luna` command (see ./run.ts and `luna --help`): `luna serve`, `luna
 * setup` (builds the shim), and `ls`, `stats`, `conns`, `capture`, `ping`,
 * `connect`, `lab`, `demo`, `bench`. Runs under Bun (`bun src/cli/main.ts`, or the `luna` bin of the
 * package), under Deno (`deno run -A src/cli/main.ts`), and compiled (`make
 * luna` → dist/luna).
 *
 * @module
 */
import { runLuna } from "./run.ts";

// deno-lint-ignore no-explicit-any
const g = globalThis as any;
const argv: string[] = typeof g.Deno !== "undefined" ? [...g.Deno.args] : process.argv.slice(2);

process.exit(await runLuna(argv));
