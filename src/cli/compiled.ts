#!/usr/bin/env bun
/**
 * The entry of the compiled `luna` executable (`make luna` → dist/luna, by
 * `bun build --compile`): the Bun binder and the shim library are bundled
 * in, then the command runs as src/cli/main.ts does. Bun only.
 *
 * @module
 */
import "../../ffi/embed_bun.ts";
import "./main.ts";
