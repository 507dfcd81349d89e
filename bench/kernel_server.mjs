// The kernel-TCP servers of the benchmarks, each written the way a user of
// that runtime would write it: Bun.listen under Bun, Deno.listen under Deno,
// node:net under Node. Plain JavaScript, so that all three run this one file.
//   port PORT:   echo (what arrives goes back; the peer's FIN is answered with ours)
//   port PORT+2: sink (what arrives is dropped; the peer's FIN answered likewise)
//   port PORT+4: storage (each 64-byte request is answered by as many bytes as
//                its first 4 bytes say, little-endian, at most 1 MiB: a block read)
// Prints READY once both listen; exits on SIGINT, SIGTERM or the end of stdin.
// Commands on stdin (the concurrency workload):
//   mem    a full collection where the runtime offers one (Bun; Deno with
//          --v8-flags=--expose-gc; node with --expose-gc), then prints
//          `MEM {"heap":..,"rss":..,"accepted":..,"closed":..,"gc":true|false}`
//          (connections accepted and closed on the echo port so far)
//   twclose  (with `track`, Bun and node) ends every connection of the echo port
//          first (FIN), so that each becomes a TIME-WAIT socket once the peer
//          closes too; prints `TWCLOSE {"closed":N}`
// Usage: kernel_server.mjs bun|deno|node ADDRESS PORT [track]
//   track: keep the echo port's sockets in a set (for twclose); left out
//          where memory per idle connection is measured
const [kind, host, portArg, trackArg] = globalThis.Deno ? Deno.args : process.argv.slice(2);
const tracked = trackArg === "track" ? new Set() : undefined;
const port = Number(portArg);
const sinkPort = port + 2;
const storagePort = port + 4;

// The storage protocol: 64-byte requests, each answered by `size` bytes (the
// request's first 4, little-endian) cut from one constant buffer.
const requestBytes = 64;
const maxAnswer = 1 << 20;
const answer = new Uint8Array(maxAnswer).fill(0xa5);
/** Feeds `d` to the parser state `st` ({have, size}); calls `onRequest(size)` for each whole request. */
function parseRequests(st, d, onRequest) {
  for (let i = 0; i < d.length;) {
    const take = Math.min(d.length - i, requestBytes - st.have);
    for (let k = 0; k < take && st.have + k < 4; k++) st.size |= d[i + k] << (8 * (st.have + k));
    st.have += take;
    i += take;
    if (st.have === requestBytes) {
      const size = Math.min(st.size >>> 0, maxAnswer);
      st.have = 0;
      st.size = 0;
      onRequest(size);
    }
  }
}

// Connections accepted and closed on the echo port (the concurrency workload holds idle ones there).
let accepted = 0;
let closed = 0;

function memLine() {
  let gc = false;
  if (globalThis.Bun) {
    Bun.gc(true);
    gc = true;
  } else if (typeof globalThis.gc === "function") {
    globalThis.gc();
    globalThis.gc();
    gc = true;
  }
  const m = globalThis.Deno ? Deno.memoryUsage() : process.memoryUsage();
  return `MEM ${JSON.stringify({ heap: m.heapUsed, rss: m.rss, accepted, closed, gc })}`;
}

/** Answers `mem` lines of stdin; calls `onEnd` when stdin ends. */
async function commands(onEnd) {
  let buf = "";
  const onChunk = (d) => {
    buf += d;
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (line === "mem") console.log(memLine());
      else if (line === "twclose") {
        let n = 0;
        for (const s of tracked ?? []) {
          s.end();
          n++;
        }
        console.log(`TWCLOSE ${JSON.stringify({ closed: n, tracked: tracked !== undefined })}`);
      }
    }
  };
  if (globalThis.Deno) {
    const dec = new TextDecoder();
    for await (const chunk of Deno.stdin.readable) onChunk(dec.decode(chunk, { stream: true }));
    onEnd();
  } else {
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", onChunk);
    process.stdin.on("end", onEnd);
    process.stdin.resume();
  }
}

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
        accepted++;
        tracked?.add(s);
        s.setNoDelay?.(true);
      },
      close(s) {
        closed++;
        tracked?.delete(s);
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
  // Bun's write takes what the socket takes; the rest of the answer waits for drain.
  const pump = (s) => {
    const st = s.data;
    while (st.pending > 0) {
      const want = Math.min(st.pending, maxAnswer);
      const n = s.write(answer.subarray(0, want));
      if (n <= 0) return;
      st.pending -= n;
      if (n < want) return;
    }
  };
  const storage = Bun.listen({
    hostname: host,
    port: storagePort,
    socket: {
      open(s) {
        s.setNoDelay?.(true);
        s.data = { have: 0, size: 0, pending: 0 };
      },
      data(s, d) {
        parseRequests(s.data, d, (size) => {
          s.data.pending += size;
        });
        pump(s);
      },
      drain: pump,
      end(s) {
        s.end();
      },
      error() {},
    },
  });
  exitOn(() => {
    echo.stop(true);
    sink.stop(true);
    storage.stop(true);
    process.exit(0);
  });
} else if (kind === "deno") {
  const serve = async (listener, onConn) => {
    for await (const conn of listener) onConn(conn).catch(() => {}).finally(() => conn.close());
  };
  const echo = Deno.listen({ hostname: host, port });
  const sink = Deno.listen({ hostname: host, port: sinkPort });
  serve(echo, async (conn) => {
    accepted++;
    try {
      conn.setNoDelay(true);
      const buf = new Uint8Array(65536);
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) return;
        for (let off = 0; off < n;) off += await conn.write(buf.subarray(off, n));
      }
    } finally {
      closed++;
    }
  });
  serve(sink, async (conn) => {
    const buf = new Uint8Array(1 << 18);
    while ((await conn.read(buf)) !== null);
  });
  const storage = Deno.listen({ hostname: host, port: storagePort });
  serve(storage, async (conn) => {
    conn.setNoDelay(true);
    const buf = new Uint8Array(65536);
    const st = { have: 0, size: 0 };
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return;
      let pending = 0;
      parseRequests(st, buf.subarray(0, n), (size) => {
        pending += size;
      });
      while (pending > 0) {
        const w = await conn.write(answer.subarray(0, Math.min(pending, maxAnswer)));
        pending -= w;
      }
    }
  });
  exitOn(() => Deno.exit(0));
} else if (kind === "node") {
  const net = await import("node:net");
  const echo = net.createServer({ noDelay: true }, (s) => {
    accepted++;
    tracked?.add(s);
    s.on("close", () => {
      closed++;
      tracked?.delete(s);
    });
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
  const storage = net.createServer({ noDelay: true }, (s) => {
    s.setNoDelay(true);
    const st = { have: 0, size: 0 };
    // node:net queues what the socket does not take at once.
    s.on("data", (d) => parseRequests(st, d, (size) => s.write(answer.subarray(0, size))));
    s.on("end", () => s.end());
    s.on("error", () => {});
  });
  await Promise.all([
    new Promise((r) => echo.listen({ host, port, backlog: 4096 }, r)),
    new Promise((r) => sink.listen({ host, port: sinkPort, backlog: 4096 }, r)),
    new Promise((r) => storage.listen({ host, port: storagePort, backlog: 4096 }, r)),
  ]);
  exitOn(() => process.exit(0));
} else {
  console.error(`kernel_server: unknown kind ${kind}`);
  (globalThis.Deno ?? process).exit(2);
}

console.log(`READY ${kind} ${host}:${port}`);
// The end of stdin ends the server, so that it never outlives the bench.
commands(() => (globalThis.Deno ?? process).exit(0));
