// The servers of the httpget workload (bench/http_get.ts): `GET /hello`
// answered "Hello, World!" (13 bytes, text/plain) on a kept-alive connection.
//
//   kernel ADDR PORT   Bun.serve (under Bun) or Deno.serve (under Deno) on the
//                      kernel's TCP, as their users write them
//   CONFIG             a luna-ts stack (the JSON of bench/tcp.ts memifEnd) with
//                      serve() on port 80, node:http over luna-ts/net
//                      (listenNode) on port 8080, and the app of `luna serve
//                      http` (src/apps/http.ts, its default limits, its timers
//                      ticked as luna serve ticks them) on port 81: GET /bytes/13
//
// Prints READY once listening; exits on "quit" or the end of stdin (luna:
// printing `RESULT {...}`, the serve() counters and the stack's).
import { createServer } from "node:http";
import { listenNode } from "../src/api/net.ts";
import { createApp } from "../src/apps/mod.ts";
import { createStack, serve } from "../src/mod.ts";
import { type BenchEnd, benchStackConfig, onLines, report } from "./_control.ts";

const body = "Hello, World!";
// deno-lint-ignore no-explicit-any
const g = globalThis as any;
const [kind, a1, a2] = process.argv.slice(2);

if (kind === "kernel") {
  const port = Number(a2);
  const fetch = () => new Response(body);
  if (typeof g.Bun !== "undefined") g.Bun.serve({ hostname: a1, port, fetch });
  else g.Deno.serve({ hostname: a1, port, onListen: () => {} }, fetch);
  console.log("READY");
  onLines((line) => line === "quit" && process.exit(0));
} else if (kind?.startsWith("{")) {
  const cfg = JSON.parse(kind) as BenchEnd & { lifetimeS: number; name?: string };
  // With a name, a control socket of that name (luna stats NAME: the bench reads the segments counted).
  const control = cfg.name !== undefined ? { control: { name: cfg.name } } : {};
  const stack = await createStack({ ...benchStackConfig(cfg, { noDelay: true }), ...control });
  const server = serve(stack, { port: 80, fetch: () => new Response(body) });
  listenNode(
    createServer((_req, res) => {
      res.writeHead(200, {
        "content-type": "text/plain;charset=utf-8",
        "content-length": String(body.length),
      });
      res.end(body);
    }),
    stack,
    8080,
  );
  const app = createApp("http", stack.device.zone);
  stack.listen(81, (c) => app.accept(c));
  const tick = setInterval(() => {
    app.retry();
    app.tick(performance.now());
  }, 2);
  let quitting = false;
  const quit = async (why: string) => {
    if (quitting) return;
    quitting = true;
    clearInterval(tick);
    const result = { why, serve: server.stats(), app: app.stats(), ...stack.stats() };
    try {
      await stack.close(500);
    } finally {
      report("RESULT", result);
      process.exit(0);
    }
  };
  onLines((line) => line === "quit" && void quit("asked"));
  process.on("SIGINT", () => void quit("SIGINT"));
  process.on("SIGTERM", () => void quit("SIGTERM"));
  setTimeout(() => void quit("lifetime"), cfg.lifetimeS * 1000);
  console.log(`READY ${cfg.mode} ${cfg.device}`);
  await stack.run();
} else {
  console.error("usage: http_server.ts kernel ADDR PORT | CONFIG");
  process.exit(2);
}
