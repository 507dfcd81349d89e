// The worker side of worker_register.ts: registers its thread, then takes and
// returns buffers of the main thread's pool through the shim.
import { openShim } from "../../ffi/mod.ts";

// deno-lint-ignore no-explicit-any
const scope = self as any;
scope.onmessage = async (e: MessageEvent) => {
  const shim = await openShim();
  const s = shim.symbols;
  const lcore = s.luna_thread_register();
  const again = s.luna_thread_register();
  const handles = new Uint32Array(64);
  const took = s.luna_alloc_bulk(e.data.pool, handles, 64);
  const distinct = new Set(handles).size;
  const freed = s.luna_free_bulk(e.data.pool, handles, 64);
  const unregistered = s.luna_thread_unregister();
  scope.postMessage({ lcore, again, took, distinct, freed, unregistered });
};
