/**
 * The fault injector: wraps any device and drops, duplicates, corrupts,
 * reorders, delays and rate-limits its frames, replayably from a seed; see
 * {@link FaultInjector}.
 *
 * @module
 */
export { FaultCounters, FaultInjector, type FaultInjectorOptions, type FaultOptions } from "./injector.ts";
