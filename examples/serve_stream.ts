/**
 * The Web-standard server on luna-ts: `serve({ port, fetch })` with the
 * runtime's own Request and Response, streaming both ways.
 *
 * - `GET /`                 a short text
 * - `GET /stream?n=5`       n lines, one every 20 ms, as they are made
 *                           (a ReadableStream: the answer goes out chunked)
 * - `POST /upper`           the request body upper-cased, piece by piece as
 *                           it arrives (request.body piped through a
 *                           TransformStream into the response)
 *
 * Run (as root):
 *   bun examples/serve_stream.ts --device af_packet:veth0 --address 198.18.0.2/24
 * then: `curl -N http://198.18.0.2:8000/stream` or
 * `curl -T- http://198.18.0.2:8000/upper < file`.
 *
 * @module
 */
import { serve } from "../src/mod.ts";
import { exampleArgs, exampleStack, runUntilSignal } from "./_example.ts";

const a = exampleArgs("serve_stream.ts --device SPEC --address CIDR [--mode batch|inline] [--port 8000]");
const stack = await exampleStack(a);
const port = Number(a.port ?? 8000);
const enc = new TextEncoder();
const dec = new TextDecoder();

const server = serve(stack, {
  port,
  fetch(req) {
    const url = new URL(req.url);
    if (url.pathname === "/") return new Response("luna-ts serve(): try /stream and POST /upper\n");
    if (url.pathname === "/stream") {
      const n = Math.min(Number(url.searchParams.get("n") ?? 5), 1000);
      let i = 0;
      return new Response(
        new ReadableStream<Uint8Array>({
          async pull(ctl) {
            if (i === n) return ctl.close();
            if (i > 0) await new Promise((r) => setTimeout(r, 20));
            ctl.enqueue(enc.encode(`line ${++i} of ${n}\n`));
          },
        }),
        { headers: { "content-type": "text/plain" } },
      );
    }
    if (url.pathname === "/upper" && (req.method === "POST" || req.method === "PUT") && req.body !== null) {
      const upper = new TransformStream<Uint8Array, Uint8Array>({
        transform: (chunk, ctl) => ctl.enqueue(enc.encode(dec.decode(chunk, { stream: true }).toUpperCase())),
      });
      return new Response(req.body.pipeThrough(upper));
    }
    return new Response("not found\n", { status: 404 });
  },
});
console.log(`READY serve() on ${a.address ?? "the kernel's address"}:${port}`);
// Graceful: stop accepting, let requests in flight finish; at most 2 s.
await runUntilSignal(
  stack,
  () => Promise.race([server.shutdown(), new Promise<void>((r) => setTimeout(r, 2000))]),
);
