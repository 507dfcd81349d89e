// A peer on the kernel's TCP, written with node:net (run by /usr/bin/node).
//   node node_peer.mjs server PORT          echo server; prints LISTENING
//   node node_peer.mjs client HOST PORT N   sends N random bytes, half-closes, checks the echo;
//                                           prints RESULT {json}
import { randomBytes } from "node:crypto";
import net from "node:net";

const [mode, ...args] = process.argv.slice(2);
if (mode === "server") {
  const server = net.createServer((s) => {
    s.on("error", () => {});
    s.pipe(s);
  });
  server.listen(Number(args[0]), "0.0.0.0", () => console.log("LISTENING"));
} else if (mode === "client") {
  const [host, port, n] = [args[0], Number(args[1]), Number(args[2])];
  const data = randomBytes(n);
  let got = 0;
  let firstBad = -1;
  const t0 = performance.now();
  const s = net.connect(port, host, () => {
    s.end(data);
  });
  s.on("data", (chunk) => {
    for (let i = 0; i < chunk.length && firstBad < 0; i++) if (chunk[i] !== data[got + i]) firstBad = got + i;
    got += chunk.length;
  });
  s.on("error", (e) => {
    console.log("RESULT " + JSON.stringify({ error: String(e), got, firstBad }));
    process.exit(1);
  });
  s.on("close", () => {
    const seconds = (performance.now() - t0) / 1000;
    console.log("RESULT " + JSON.stringify({ sent: n, got, firstBad, seconds }));
    process.exit(0);
  });
} else {
  console.error("usage: node_peer.mjs server PORT | client HOST PORT N");
  process.exit(2);
}
