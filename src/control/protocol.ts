/**
 * The control socket's protocol, shared by the server a stack runs and the
 * `luna` command that talks to it.
 *
 * A client connects to `/run/luna/<name>.sock` (or `$LUNA_CONTROL_DIR`), sends
 * one request as a line of JSON (`{"op":"stats"}\n`), and reads frames: a
 * 4-byte big-endian length, a 1-byte kind, the payload. A JSON frame holds an
 * object; a data frame holds bytes (pcap records for `capture`, the peer's
 * bytes for `connect`). Every op ends with a JSON frame that has `done: true`
 * (and `error` when it failed), after which the server closes the socket.
 * After a `connect` request, what the client sends is the connection's data;
 * ending its side sends a FIN.
 *
 * @module
 */

/** Where control sockets live unless `LUNA_CONTROL_DIR` says otherwise. */
export const controlDirDefault = "/run/luna";

/** The directory of control sockets: `$LUNA_CONTROL_DIR`, else {@link controlDirDefault}. */
export function controlDir(): string {
  let env: string | undefined;
  try {
    env = process.env.LUNA_CONTROL_DIR;
  } catch {
    env = undefined; // Deno without --allow-env: unset
  }
  return env !== undefined && env !== "" ? env : controlDirDefault;
}

/** A stack's name: what `luna ls` shows and the socket's file name. */
export const namePattern: RegExp = /^[A-Za-z0-9_.-]{1,64}$/;

/** The socket path of stack `name` in `dir`. */
export function socketPath(name: string, dir: string = controlDir()): string {
  return `${dir}/${name}.sock`;
}

/** Frame kinds. */
export const FrameKind = { json: 0, data: 1 } as const;

/** Bytes of a frame header: length (4) and kind (1). */
export const frameHeaderLen = 5;

/** The largest frame either side accepts, bytes of payload. */
export const frameMax = 1 << 22;

/** The longest request line the server reads, bytes. */
export const requestMax = 4096;

/** Ops the server answers. */
export const ops = ["info", "stats", "conns", "capture", "ping", "connect"] as const;
/** One of {@link ops}. */
export type Op = typeof ops[number];

/** A frame's header and payload, as one buffer. */
export function frame(kind: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(frameHeaderLen + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length);
  out[4] = kind;
  out.set(payload, frameHeaderLen);
  return out;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A JSON frame. */
export function jsonFrame(value: unknown): Uint8Array {
  return frame(FrameKind.json, encoder.encode(JSON.stringify(value)));
}

/** One decoded frame. */
export type Frame = { kind: "json"; value: Record<string, unknown> } | { kind: "data"; bytes: Uint8Array };

/**
 * Splits a byte stream into frames. Feed it chunks as they come; it returns
 * the frames complete so far and keeps the rest. A malformed frame throws.
 */
export class FrameReader {
  #buf = new Uint8Array(0);

  push(chunk: Uint8Array): Frame[] {
    const joined = new Uint8Array(this.#buf.length + chunk.length);
    joined.set(this.#buf);
    joined.set(chunk, this.#buf.length);
    const out: Frame[] = [];
    let at = 0;
    const view = new DataView(joined.buffer);
    while (joined.length - at >= frameHeaderLen) {
      const len = view.getUint32(at);
      const kind = joined[at + 4];
      if (len > frameMax) throw new Error(`control socket: a frame of ${len} bytes (at most ${frameMax})`);
      if (kind !== FrameKind.json && kind !== FrameKind.data) {
        throw new Error(`control socket: unknown frame kind ${kind}`);
      }
      if (joined.length - at - frameHeaderLen < len) break;
      const payload = joined.subarray(at + frameHeaderLen, at + frameHeaderLen + len);
      if (kind === FrameKind.json) {
        out.push({ kind: "json", value: JSON.parse(decoder.decode(payload)) as Record<string, unknown> });
      } else out.push({ kind: "data", bytes: payload.slice() });
      at += frameHeaderLen + len;
    }
    this.#buf = joined.slice(at);
    return out;
  }

  /** Bytes of an unfinished frame held. */
  get pending(): number {
    return this.#buf.length;
  }
}
