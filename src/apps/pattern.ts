/**
 * The body that `GET /bytes/N` answers: byte `i` of the body is `i % 256`
 * (0x00, 0x01, ... 0xff, 0x00, ...). Anyone can rebuild it to check a
 * download — `python3 -c 'import sys; n=int(sys.argv[1]);
 * sys.stdout.buffer.write((bytes(range(256))*(n//256+1))[:n])' N | sha256sum`
 * — or use {@link patternBytes} / {@link patternSha256} here.
 *
 * @example
 * ```ts
 * import { patternSha256 } from "./pattern.ts";
 * console.log(patternSha256(1 << 20)); // what `curl .../bytes/1048576 | sha256sum` prints
 * ```
 *
 * @module
 */
import { createHash } from "node:crypto";

/** 256 + 64 KiB of the pattern from offset 0: any stretch of it up to 64 KiB starts at `pos & 255`. */
const table = new Uint8Array(256 + 65536).map((_, i) => i & 255);

/** The longest stretch of {@link patternRun} to take at once. */
export const patternRunMax = 65536;

/**
 * The pattern as a table to copy from: the `n` bytes (`n` at most
 * {@link patternRunMax}) of the body from offset `pos` are those of
 * `patternRun` from `pos & 255`. Not to be written.
 */
export const patternRun: Uint8Array = table;

/** Fills `out` with the pattern as it runs from body offset `pos` (a copy from a table: a memcpy per 64 KiB). */
export function fillPattern(out: Uint8Array, pos: number): void {
  if (out.length <= 64) {
    // A short body: a loop costs less than the view a copy needs.
    for (let i = 0; i < out.length; i++) out[i] = (pos + i) & 255;
    return;
  }
  let done = 0;
  while (done < out.length) {
    const n = Math.min(out.length - done, 65536);
    const at = (pos + done) & 255;
    out.set(table.subarray(at, at + n), done);
    done += n;
  }
}

/** The first `n` bytes of the pattern. */
export function patternBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  fillPattern(out, 0);
  return out;
}

/** Lowercase hex SHA-256 of the first `n` bytes of the pattern, computed without holding them all. */
export function patternSha256(n: number): string {
  const h = createHash("sha256");
  const chunk = table.subarray(0, 65536); // 65536 is a multiple of 256: every chunk is the same
  let left = n;
  while (left > 0) {
    const k = Math.min(left, chunk.length);
    h.update(chunk.subarray(0, k));
    left -= k;
  }
  return h.digest("hex");
}
