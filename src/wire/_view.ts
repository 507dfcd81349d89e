// The part every header view shares: where the header lives, and how a view
// is pointed at one (`attach` for building, `wrap` for receiving: it checks).
// Private to src/wire.
import type { Drop } from "./drop.ts";
import { noBytes } from "./_bytes.ts";

/** A reusable view over a header in place; subclasses add the accessors and {@link check}. */
export abstract class WireView {
  /** The buffer the header lives in. */
  bytes: Uint8Array = noBytes;
  /** Offset of its first byte in {@link bytes}. */
  offset = 0;
  /** Bytes available to it, from {@link offset}. */
  length = 0;

  /** A view over `bytes[offset..offset + length)`, unchecked; with no arguments, attached to nothing. */
  constructor(bytes: Uint8Array = noBytes, offset = 0, length: number = bytes.length - offset) {
    this.attach(bytes, offset, length);
  }

  /** Points the view without checks (for building a header). */
  attach(bytes: Uint8Array, offset: number, length: number): this {
    this.bytes = bytes;
    this.offset = offset;
    this.length = length;
    return this;
  }

  /** Points the view at a received header and checks it: `Drop.none` if every accessor is safe. */
  wrap(bytes: Uint8Array, offset: number, length: number): Drop {
    this.attach(bytes, offset, length);
    return this.check();
  }

  /** Validates the lengths once; after `Drop.none`, no accessor reads past the header. */
  abstract check(): Drop;
}
