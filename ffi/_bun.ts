// Binder for Bun (bun:ffi). Only ffi/mod.ts imports this file.
import { dlopen, FFIType, toArrayBuffer } from "bun:ffi";
import type { Bound, NativePointer, NativeType, SymbolDef } from "./symbols.ts";
import type { Binder, Library } from "./_binder.ts";

const types: Record<NativeType, FFIType> = {
  i32: FFIType.i32,
  u32: FFIType.u32,
  buffer: FFIType.ptr, // Bun passes a TypedArray's bytes for a ptr argument
  pointer: FFIType.ptr,
  void: FFIType.void,
};

export const binder: Binder = {
  runtime: "bun",
  open<T extends Record<string, SymbolDef>>(path: string, table: T): Library<T> {
    const defs: Record<string, { args: FFIType[]; returns: FFIType }> = {};
    for (const [name, def] of Object.entries(table)) {
      defs[name] = { args: def.parameters.map((t) => types[t]), returns: types[def.result] };
    }
    const lib = dlopen(path, defs);
    return {
      symbols: lib.symbols as unknown as Bound<T>,
      close: () => lib.close(),
    };
  },
  mapMemory(pointer: NativePointer, length: number): ArrayBuffer {
    if (typeof pointer !== "number" || pointer === 0) throw new TypeError("null native pointer");
    return toArrayBuffer(pointer as never, 0, length);
  },
  isNull(pointer: NativePointer): boolean {
    return pointer === null || pointer === 0;
  },
};
