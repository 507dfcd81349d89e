// The interface each runtime's binder implements. Private to ffi/.
import type { Bound, NativePointer, SymbolDef } from "./symbols.ts";

export interface Library<T extends Record<string, SymbolDef>> {
  readonly symbols: Bound<T>;
  close(): void;
}

export interface Binder {
  readonly runtime: "bun" | "deno";
  open<T extends Record<string, SymbolDef>>(path: string, table: T): Library<T>;
  /** Wraps native memory as an ArrayBuffer, once; no bytes are copied. */
  mapMemory(pointer: NativePointer, length: number): ArrayBuffer;
  isNull(pointer: NativePointer): boolean;
}
