// The kernel-TCP servers of the benchmarks, each written the way a user of
// that runtime would write it: Bun.listen under Bun, Deno.listen under Deno,
// node:net under Node. Plain JavaScript, so that all three run this one file.
//   port PORT:   echo (what arrives goes back; the peer's FIN is answered with ours)
//   port PORT+2: sink (what arrives is dropped; the peer's FIN answered likewise)
// Prints READY once both listen; exits on SIGINT, SIGTERM or the end of stdin.
// Usage: kernel_server.mjs bun|deno|node ADDRESS PORT
const [kind, host, portArg] = globalThis.Deno ? Deno.args : process.argv.slice(2);
const port = Number(portArg);
const sinkPort = port + 2;

function exitOn(stop) {
  if (globalThis.Deno) {
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
  } else {
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  }
}

if (kind === "bun") {
  const echo = Bun.listen({
    hostname: host,
    port,
    socket: {
      open(s) {
        s.setNoDelay?.(true);
      },
      data(s, d) {
        // A closed loop never fills the send buffer with 64-byte answers; a
        // short write is still finished when the socket drains.
        const n = s.write(d);
        if (n < d.length) s.data = d.subarray(n);
      },
      drain(s) {
        if (s.data) {
          const rest = s.data;
          const n = s.write(rest);
          s.data = n < rest.length ? rest.subarray(n) : undefined;
        }
      },
      end(s) {
        s.end();
      },
      error() {},
    },
  });
  const sink = Bun.listen({
    hostname: host,
    port: sinkPort,
    socket: {
      data() {},
      end(s) {
        s.end();
      },
      error() {},
    },
  });
  exitOn(() => {
    echo.stop(true);
    sink.stop(true);
    process.exit(0);
  });
} else if (kind === "deno") {
  const serve = async (listener, onConn) => {
    for await (const conn of listener) onConn(conn).catch(() => {}).finally(() => conn.close());
  };
  const echo = Deno.listen({ hostname: host, port });
  const sink = Deno.listen({ hostname: host, port: sinkPort });
  serve(echo, async (conn) => {
    conn.setNoDelay(true);
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return;
      for (let off = 0; off < n;) off += await conn.write(buf.subarray(off, n));
    }
  });
  serve(sink, async (conn) => {
    const buf = new Uint8Array(1 << 18);
    while ((await conn.read(buf)) !== null);
  });
  exitOn(() => Deno.exit(0));
} else if (kind === "node") {
  const net = await import("node:net");
  const echo = net.createServer({ noDelay: true }, (s) => {
    s.setNoDelay(true);
    s.on("data", (d) => s.write(d));
    s.on("end", () => s.end());
    s.on("error", () => {});
  });
  const sink = net.createServer((s) => {
    s.on("data", () => {});
    s.on("end", () => s.end());
    s.on("error", () => {});
  });
  await Promise.all([
    new Promise((r) => echo.listen({ host, port, backlog: 4096 }, r)),
    new Promise((r) => sink.listen({ host, port: sinkPort, backlog: 4096 }, r)),
  ]);
  exitOn(() => process.exit(0));
} else {
  console.error(`kernel_server: unknown kind ${kind}`);
  (globalThis.Deno ?? process).exit(2);
}

console.log(`READY ${kind} ${host}:${port}`);
if (globalThis.Deno) {
  // The end of stdin ends the server, so that it never outlives the bench.
  (async () => {
    for await (const _ of Deno.stdin.readable);
    Deno.exit(0);
  })();
} else {
  process.stdin.on("end", () => process.exit(0));
  process.stdin.resume();
}
