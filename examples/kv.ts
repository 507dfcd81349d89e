/**
 * A small pipelined key-value server with zero-copy reads, port 6380. One
 * command a line, answered in order (a client may send many before reading):
 *
 *   SET key value   ->  OK
 *   GET key         ->  VALUE value   or   NIL
 *   DEL key         ->  1   or   0
 *   anything else   ->  ERR what was wrong
 *
 * Commands are parsed where they lie in the packet buffers (`zoneBytes` at
 * `pieceOffset`): a line is copied only when it spans two buffers, and a
 * value only when it is stored. Lines are at most 4096 bytes (longer: ERR,
 * and the connection is closed).
 *
 * Run (as root):
 *   bun examples/kv.ts --device af_packet:veth0 --address 198.18.0.2/24
 * then: `printf 'SET a 1\nGET a\n' | nc -q1 198.18.0.2 6380`.
 *
 * @module
 */
import type { Connection } from "../src/mod.ts";
import { exampleArgs, exampleStack, runUntilSignal } from "./_example.ts";

const a = exampleArgs("kv.ts --device SPEC --address CIDR [--mode batch|inline] [--port 6380]");
const stack = await exampleStack(a);
const port = Number(a.port ?? 6380);
const lineMax = 4096;
const store = new Map<string, string>();
const dec = new TextDecoder();
const enc = new TextEncoder();

/** A connection's state: the start of a line that spanned buffers, and answers not yet taken by TCP. */
interface Session {
  partial: Uint8Array | undefined;
  out: Uint8Array[];
  closing: boolean;
}

function answer(line: string): string {
  const sp1 = line.indexOf(" ");
  const cmd = sp1 < 0 ? line : line.slice(0, sp1);
  const rest = sp1 < 0 ? "" : line.slice(sp1 + 1);
  if (cmd === "GET" && rest !== "" && !rest.includes(" ")) {
    const v = store.get(rest);
    return v === undefined ? "NIL\n" : `VALUE ${v}\n`;
  }
  if (cmd === "SET") {
    const sp2 = rest.indexOf(" ");
    if (sp2 <= 0) return "ERR SET needs a key and a value\n";
    store.set(rest.slice(0, sp2), rest.slice(sp2 + 1));
    return "OK\n";
  }
  if (cmd === "DEL" && rest !== "") return store.delete(rest) ? "1\n" : "0\n";
  return `ERR unknown command '${cmd.slice(0, 32)}'\n`;
}

function flush(c: Connection, s: Session): boolean {
  while (s.out.length > 0) {
    const d = s.out[0];
    const n = c.write(d);
    if (n < d.length) {
      s.out[0] = d.subarray(n);
      return false; // onWritable resumes
    }
    s.out.shift();
  }
  if (s.closing) c.close();
  return true;
}

function pump(c: Connection): void {
  const s = c.data as Session;
  // Answers queued first: a client that pipelines faster than it reads is held by TCP's window.
  if (!flush(c, s) || s.closing) return;
  const bytes = c.zoneBytes;
  for (let n = c.pieceLength; n > 0 && !s.closing; n = c.pieceLength) {
    const at = c.pieceOffset;
    let used = 0;
    for (let i = 0; i < n; i++) {
      if (bytes[at + i] !== 10) continue;
      // A whole line: decoded where it lies, joined to the part an earlier buffer held.
      let text = dec.decode(bytes.subarray(at + used, at + i));
      if (s.partial !== undefined) {
        text = dec.decode(s.partial) + text;
        s.partial = undefined;
      }
      if (text.endsWith("\r")) text = text.slice(0, -1);
      s.out.push(enc.encode(answer(text)));
      used = i + 1;
    }
    if (used < n) {
      // The rest of the buffer starts a line that goes on in the next one: keep a copy of it.
      const tail = bytes.slice(at + used, at + n);
      const len = (s.partial?.length ?? 0) + tail.length;
      if (len > lineMax) {
        s.out.push(enc.encode(`ERR line over ${lineMax} bytes\n`));
        s.closing = true;
      } else {
        const joined = new Uint8Array(len);
        if (s.partial !== undefined) joined.set(s.partial);
        joined.set(tail, len - tail.length);
        s.partial = joined;
      }
    }
    c.consume(n);
    if (!flush(c, s)) return;
  }
}

stack.listen(port, (c) => {
  c.data = { partial: undefined, out: [], closing: false } satisfies Session;
  return {
    onData: pump,
    onWritable: pump,
    onEnd: (c) => {
      const s = c.data as Session;
      s.closing = true;
      flush(c, s);
    },
  };
});
console.log(`READY kv on ${a.address ?? "the kernel's address"}:${port}`);
await runUntilSignal(stack);
