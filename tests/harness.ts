/**
 * One test file, two runners: `test` and `describe` map to `bun:test` under
 * Bun and to `Deno.test` under Deno. Assertions come from `@std/assert`.
 *
 * @module
 */

/** Options of a test. */
export interface TestOptions {
  /** Fails the test after this long. Default 120 s. */
  timeoutMs?: number;
}

type Fn = () => void | Promise<void>;

// deno-lint-ignore no-explicit-any
const g = globalThis as any;
const isBun = typeof g.Bun !== "undefined";
// "bun:test" is named through a variable so that Deno never resolves it.
const bunTestModule = "bun:test";
const bunTest = isBun ? await import(bunTestModule) : undefined;

const prefixes: string[] = [];

/** Runtime running the tests. */
export const runtime: "bun" | "deno" = isBun ? "bun" : "deno";

/** Groups tests under a name; the group's name prefixes theirs. */
export function describe(name: string, body: () => void): void {
  prefixes.push(name);
  try {
    body();
  } finally {
    prefixes.pop();
  }
}

/** Declares a test. */
export function test(name: string, fn: Fn, options: TestOptions = {}): void {
  const full = [...prefixes, name].join(" > ");
  const timeoutMs = options.timeoutMs ?? 120_000;
  if (isBun) {
    bunTest.test(full, fn, timeoutMs);
    return;
  }
  g.Deno.test({
    name: full,
    // Tests start child processes and native resources on purpose; each
    // test checks its own clean-up.
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => withTimeout(fn, timeoutMs, full),
  });
}

async function withTimeout(fn: Fn, ms: number, name: string): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`test "${name}" timed out after ${ms} ms`)), ms);
  });
  try {
    await Promise.race([Promise.resolve().then(fn), expired]);
  } finally {
    clearTimeout(timer);
  }
}
