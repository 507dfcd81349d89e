/**
 * The option parser of the `luna` subcommands other than `serve`: flags
 * that take a value or not, positional arguments, and a {@link UsageError}
 * naming the argument at fault.
 *
 * @module
 */
import { parseIpv4 } from "../wire/mod.ts";
import { UsageError } from "./args.ts";

/** Where a subcommand writes: lines for people, on stdout and stderr. */
export interface Io {
  out(line: string): void;
  err(line: string): void;
}

/** A parsed subcommand line. */
export interface Parsed {
  /** Values of flags that take one (the last flag name, `--count`), and `true` for switches. */
  flags: Map<string, string | true>;
  positional: string[];
  help: boolean;
  /** How each flag was written (`-c` for `--count`), for messages. */
  given: Map<string, string>;
}

/**
 * Parses `argv` against `spec` (flag → takes a value); `aliases` maps short
 * forms (`-c` → `--count`). At most `maxPositional` positional arguments.
 */
export function parseOptions(
  argv: string[],
  spec: Record<string, boolean>,
  maxPositional: number,
  aliases: Record<string, string> = {},
): Parsed {
  const flags = new Map<string, string | true>();
  const positional: string[] = [];
  const givenAs = new Map<string, string>();
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--help" || a === "-h") {
      help = true;
      continue;
    }
    if (a === "-" || !a.startsWith("-")) {
      if (positional.length === maxPositional) {
        throw new UsageError(a, maxPositional === 0 ? "unexpected argument" : "one argument too many");
      }
      positional.push(a);
      continue;
    }
    const eq = a.indexOf("=");
    const given = eq > 0 ? a.slice(0, eq) : a;
    const flag = aliases[given] ?? given;
    if (!(flag in spec)) {
      const known = Object.keys(spec);
      throw new UsageError(given, `unknown option${known.length > 0 ? ` (known: ${known.join(", ")})` : ""}`);
    }
    if (flags.has(flag)) throw new UsageError(given, "given twice");
    givenAs.set(flag, given);
    if (!spec[flag]) {
      if (eq > 0) throw new UsageError(given, "takes no value");
      flags.set(flag, true);
      continue;
    }
    let value: string | undefined;
    if (eq > 0) value = a.slice(eq + 1);
    else if (i + 1 < argv.length) value = argv[++i];
    if (value === undefined || value === "") throw new UsageError(given, "needs a value");
    flags.set(flag, value);
  }
  return { flags, positional, help, given: givenAs };
}

/** The integer value of `flag` in min..max, or `fallback` when absent. */
export function intFlag(
  p: Parsed,
  flag: string,
  min: number,
  max: number,
  fallback?: number,
): number | undefined {
  const v = p.flags.get(flag);
  if (v === undefined) return fallback;
  if (v === true || !/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new UsageError(p.given.get(flag) ?? flag, `expected an integer ${min}..${max}, got '${v}'`);
  }
  return Number(v);
}

/** The number value of `flag` (seconds, say) in min..max, or `fallback` when absent. */
export function numberFlag(
  p: Parsed,
  flag: string,
  min: number,
  max: number,
  fallback?: number,
): number | undefined {
  const v = p.flags.get(flag);
  if (v === undefined) return fallback;
  if (v === true || !/^\d+(\.\d+)?$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new UsageError(p.given.get(flag) ?? flag, `expected a number ${min}..${max}, got '${v}'`);
  }
  return Number(v);
}

/** The string value of `flag`, or undefined. */
export function stringFlag(p: Parsed, flag: string): string | undefined {
  const v = p.flags.get(flag);
  return v === true ? undefined : v;
}

/** Checks a dotted-quad address argument; returns it. */
export function addressArg(arg: string, s: string): string {
  try {
    parseIpv4(s);
  } catch {
    throw new UsageError(arg, `'${s}' is not an IPv4 address (like 198.18.0.1)`);
  }
  return s;
}

/** Checks a stack name argument. */
export function nameArg(s: string | undefined): string | undefined {
  if (s !== undefined && !/^[A-Za-z0-9_.-]{1,64}$/.test(s)) {
    throw new UsageError(s, "not a stack name (1 to 64 of letters, digits, _ . -; 'luna ls' lists them)");
  }
  return s;
}
