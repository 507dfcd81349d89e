/**
 * The subset of `@std/assert` that luna-ts's tests use, with the same names
 * and signatures, built on `node:assert/strict`. JSR (where `@std/assert`
 * lives) is not reachable from every machine this project is built on, so the
 * bare specifier `@std/assert` maps here (deno.json "imports", tsconfig.json
 * "paths"). Where JSR is reachable, pointing that mapping at
 * `jsr:@std/assert` is the only change needed.
 *
 * @module
 */
import nodeAssert from "node:assert/strict";

/** Thrown when an assertion fails. */
export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

function rethrow(e: unknown, msg?: string): never {
  if (e instanceof Error) throw new AssertionError(msg ? `${msg}: ${e.message}` : e.message);
  throw e;
}

/** Asserts that `expr` is truthy. */
export function assert(expr: unknown, msg = "expected a truthy value"): asserts expr {
  if (!expr) throw new AssertionError(msg);
}

/** Asserts deep equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  try {
    nodeAssert.deepStrictEqual(actual, expected);
  } catch (e) {
    rethrow(e, msg);
  }
}

/** Asserts deep inequality. */
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  try {
    nodeAssert.notDeepStrictEqual(actual, expected);
  } catch (e) {
    rethrow(e, msg);
  }
}

/** Asserts `Object.is` equality. */
export function assertStrictEquals<T>(actual: unknown, expected: T, msg?: string): asserts actual is T {
  if (!Object.is(actual, expected)) {
    throw new AssertionError(msg ?? `expected ${String(expected)}, got ${String(actual)}`);
  }
}

/** Asserts that the value is neither null nor undefined. */
export function assertExists<T>(actual: T, msg?: string): asserts actual is NonNullable<T> {
  if (actual === null || actual === undefined) {
    throw new AssertionError(msg ?? `expected a value, got ${actual}`);
  }
}

/** Asserts `actual > expected`. */
export function assertGreater<T>(actual: T, expected: T, msg?: string): void {
  if (!(actual > expected)) throw new AssertionError(msg ?? `expected ${actual} > ${expected}`);
}

/** Asserts `actual >= expected`. */
export function assertGreaterOrEqual<T>(actual: T, expected: T, msg?: string): void {
  if (!(actual >= expected)) throw new AssertionError(msg ?? `expected ${actual} >= ${expected}`);
}

/** Asserts `actual < expected`. */
export function assertLess<T>(actual: T, expected: T, msg?: string): void {
  if (!(actual < expected)) throw new AssertionError(msg ?? `expected ${actual} < ${expected}`);
}

/** Asserts `actual <= expected`. */
export function assertLessOrEqual<T>(actual: T, expected: T, msg?: string): void {
  if (!(actual <= expected)) throw new AssertionError(msg ?? `expected ${actual} <= ${expected}`);
}

/** Asserts that `actual` contains `expected`. */
export function assertStringIncludes(actual: string, expected: string, msg?: string): void {
  if (!actual.includes(expected)) {
    throw new AssertionError(msg ?? `expected ${JSON.stringify(actual)} to include ${JSON.stringify(expected)}`);
  }
}

/** Asserts that `actual` matches `expected`. */
export function assertMatch(actual: string, expected: RegExp, msg?: string): void {
  if (!expected.test(actual)) {
    throw new AssertionError(msg ?? `expected ${JSON.stringify(actual)} to match ${expected}`);
  }
}

/** Asserts that `actual` is an instance of `type`. */
// deno-lint-ignore no-explicit-any
export function assertInstanceOf<T extends abstract new (...args: any[]) => any>(
  actual: unknown,
  type: T,
  msg?: string,
): asserts actual is InstanceType<T> {
  if (!(actual instanceof type)) {
    const got = actual instanceof Error ? `${actual.name}: ${actual.message}` : String(actual);
    throw new AssertionError(msg ?? `expected an instance of ${type.name}, got ${got}`);
  }
}

/** Asserts that two numbers are within `tolerance` of each other. */
export function assertAlmostEquals(actual: number, expected: number, tolerance = 1e-7, msg?: string): void {
  if (!(Math.abs(actual - expected) <= tolerance)) {
    throw new AssertionError(msg ?? `expected ${actual} within ${tolerance} of ${expected}`);
  }
}

type ErrorClass<E extends Error> = abstract new (...args: any[]) => E;

/**
 * Asserts that `fn` throws; with `ErrorClass`, an instance of it whose message
 * includes `msgIncludes`. Returns the error.
 */
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  ErrorClass?: ErrorClass<E>,
  msgIncludes?: string,
  msg?: string,
): E {
  try {
    fn();
  } catch (e) {
    checkError(e, ErrorClass, msgIncludes, msg);
    return e as E;
  }
  throw new AssertionError(msg ?? "expected the function to throw");
}

/** Asserts that `fn`'s promise rejects, like {@link assertThrows}. Returns the error. */
export async function assertRejects<E extends Error = Error>(
  fn: () => PromiseLike<unknown>,
  ErrorClass?: ErrorClass<E>,
  msgIncludes?: string,
  msg?: string,
): Promise<E> {
  try {
    await fn();
  } catch (e) {
    checkError(e, ErrorClass, msgIncludes, msg);
    return e as E;
  }
  throw new AssertionError(msg ?? "expected the promise to reject");
}

function checkError<E extends Error>(e: unknown, cls?: ErrorClass<E>, includes?: string, msg?: string): void {
  if (cls !== undefined && !(e instanceof cls)) {
    const got = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    throw new AssertionError(msg ?? `expected ${cls.name} to be thrown, got ${got}`);
  }
  if (includes !== undefined && !(e instanceof Error && e.message.includes(includes))) {
    throw new AssertionError(
      msg ?? `expected the error message to include ${JSON.stringify(includes)}, got ${
        JSON.stringify(e instanceof Error ? e.message : String(e))
      }`,
    );
  }
}

/** Fails with `msg`. */
export function fail(msg?: string): never {
  throw new AssertionError(msg ? `Failed assertion: ${msg}` : "Failed assertion.");
}

/** Marks code that must not be reached. */
export function unreachable(msg?: string): never {
  throw new AssertionError(msg ?? "unreachable");
}
