// Bun only, for `bun build --compile` (the `luna` executable, see `make luna`):
// links the Bun binder in statically and embeds the shim library in the
// executable, where Bun's dlopen finds it. Import it before anything opens
// the shim. Deno never loads this file.
import shimPath from "../c-shims/build/libluna_shim.so" with { type: "file" };
import { binder } from "./_bun.ts";
import { useEmbeddedShim } from "./mod.ts";

useEmbeddedShim(binder, shimPath);
