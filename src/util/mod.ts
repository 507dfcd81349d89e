/**
 * Small utilities with no place in a layer: a seeded random generator and a
 * byte copy that allocates nothing.
 *
 * @module
 */
export { Random } from "./random.ts";
export { copyBytes } from "./bytes.ts";
