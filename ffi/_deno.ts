// Binder for Deno (Deno.dlopen). Only ffi/mod.ts imports this file.
import type { Bound, NativePointer, NativeType, SymbolDef } from "./symbols.ts";
import type { Binder, Library } from "./_binder.ts";

// deno-lint-ignore no-explicit-any
const D = (globalThis as any).Deno;

const types: Record<NativeType, string> = {
  i32: "i32",
  u32: "u32",
  buffer: "buffer",
  pointer: "pointer",
  void: "void",
};

export const binder: Binder = {
  runtime: "deno",
  open<T extends Record<string, SymbolDef>>(path: string, table: T): Library<T> {
    const defs: Record<string, { parameters: string[]; result: string }> = {};
    for (const [name, def] of Object.entries(table)) {
      defs[name] = { parameters: def.parameters.map((t) => types[t]), result: types[def.result] };
    }
    const lib = D.dlopen(path, defs);
    return { symbols: lib.symbols as Bound<T>, close: () => lib.close() };
  },
  mapMemory(pointer: NativePointer, length: number): ArrayBuffer {
    if (pointer === null || typeof pointer === "number") throw new TypeError("null native pointer");
    return D.UnsafePointerView.getArrayBuffer(pointer, length);
  },
  isNull(pointer: NativePointer): boolean {
    return pointer === null;
  },
};
