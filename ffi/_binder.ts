// The interface each runtime's binder implements; exported as types for useEmbeddedShim.
import type { Bound, NativePointer, SymbolDef } from "./symbols.ts";

/** A library opened by a {@link Binder}: its bound functions. */
export interface Library<T extends Record<string, SymbolDef>> {
  /** The library's functions, bound. */
  readonly symbols: Bound<T>;
  /** Closes the library. */
  close(): void;
}

/** What each runtime's FFI (bun:ffi, Deno.dlopen) offers the rest of luna-ts. */
export interface Binder {
  /** Which runtime this binder is for. */
  readonly runtime: "bun" | "deno";
  /** Opens the library at `path` with the symbols of `table`. */
  open<T extends Record<string, SymbolDef>>(path: string, table: T): Library<T>;
  /** Wraps native memory as an ArrayBuffer, once; no bytes are copied. */
  mapMemory(pointer: NativePointer, length: number): ArrayBuffer;
  /** Whether a native pointer is NULL. */
  isNull(pointer: NativePointer): boolean;
}
