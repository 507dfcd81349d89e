/**
 * `luna ping` and `luna connect`: a running stack's ICMP echo and TCP
 * client, driven through its control socket (src/control), so they use the
 * stack's address, device and ARP cache as its own traffic does.
 *
 * @module
 */
import { pickStack, request } from "../control/client.ts";
import { UsageError } from "./args.ts";
import { type Subcommand, writeAll } from "./observe.ts";
import { addressArg, intFlag, nameArg, numberFlag, parseOptions, stringFlag } from "./options.ts";

const dirHelp =
  "  --dir DIR         the control sockets' directory (default $LUNA_CONTROL_DIR, else /run/luna)";

/** `luna ping`. */
export const ping: Subcommand = {
  usage: `usage: luna ping ADDR [--stack NAME] [-c COUNT] [-i S] [-W S] [-s BYTES] [--dir DIR]

Sends ICMP echo requests from a running stack (its address, through its device)
to ADDR and prints each reply with its round-trip time, then a summary like
ping(8). The exit status is 0 when a reply came, 1 when none did.

  --stack NAME      the stack to ping from (default: the only one running)
  -c, --count N     requests to send (default 4)
  -i, --interval S  seconds between requests (default 1)
  -W, --timeout S   seconds to wait for replies after the last request (default 1)
  -s, --size BYTES  payload bytes of each request, 0..1472 (default 56)
${dirHelp}`,
  async run(argv, io) {
    const p = parseOptions(
      argv,
      {
        "--stack": true,
        "--count": true,
        "--interval": true,
        "--timeout": true,
        "--size": true,
        "--dir": true,
      },
      1,
      { "-c": "--count", "-i": "--interval", "-W": "--timeout", "-s": "--size" },
    );
    if (p.help) return help(io, this.usage);
    if (p.positional.length === 0) throw new UsageError("ADDR", "missing: luna ping ADDR");
    const addr = addressArg(p.positional[0], p.positional[0]);
    const count = intFlag(p, "--count", 1, 65_536, 4)!;
    const interval = numberFlag(p, "--interval", 0.001, 60, 1)!;
    const wait = numberFlag(p, "--timeout", 0.001, 60, 1)!;
    const size = intFlag(p, "--size", 0, 1472, 56)!;
    const dir = stringFlag(p, "--dir");
    const name = await pickStack(nameArg(stringFlag(p, "--stack")), dir);
    io.out(`PING ${addr} from stack ${name}: ${size} data bytes`);
    const end = await request(
      name,
      { op: "ping", addr, count, intervalMs: interval * 1000, timeoutMs: wait * 1000, size },
      (f) => {
        if (f.kind !== "json") return;
        const v = f.value;
        io.out(`${size + 8} bytes from ${v.from}: icmp_seq=${v.seq} time=${Number(v.rttMs).toFixed(3)} ms`);
      },
      { dir, timeoutMs: (count * interval + wait) * 1000 + 10_000 },
    );
    const sent = Number(end.sent);
    const received = Number(end.received);
    io.out(`--- ${addr} ping statistics ---`);
    io.out(
      `${sent} packets transmitted, ${received} received, ${
        sent > 0 ? Math.round(100 * (sent - received) / sent) : 0
      }% packet loss${Number(end.failed) > 0 ? `, ${end.failed} not sent (no buffer)` : ""}`,
    );
    if (received > 0) {
      const f = (v: unknown) => Number(v).toFixed(3);
      io.out(`rtt min/avg/max = ${f(end.rttMinMs)}/${f(end.rttAvgMs)}/${f(end.rttMaxMs)} ms`);
    }
    return received > 0 ? 0 : 1;
  },
};

function help(io: { out(l: string): void }, usage: string): number {
  io.out(usage);
  return 0;
}

/** `luna connect`. */
export const connect: Subcommand = {
  usage: `usage: luna connect ADDR:PORT [--stack NAME] [--dir DIR]

Opens a TCP connection from a running stack to ADDR:PORT and joins it to stdin and
stdout, like nc: what comes on stdin is sent; what the peer sends goes to stdout.
The end of stdin sends a FIN; once the peer has finished too, the command exits
(status 0, or 1 when the connection was refused or reset).

  --stack NAME      the stack to connect from (default: the only one running)
${dirHelp}`,
  async run(argv, io) {
    const p = parseOptions(argv, { "--stack": true, "--dir": true }, 1);
    if (p.help) return help(io, this.usage);
    if (p.positional.length === 0) throw new UsageError("ADDR:PORT", "missing: luna connect ADDR:PORT");
    const target = p.positional[0];
    const m = /^([^:]+):(\d+)$/.exec(target);
    if (m === null) throw new UsageError(target, "expected ADDR:PORT, like 198.18.0.1:7");
    const addr = addressArg(target, m[1]);
    const port = Number(m[2]);
    if (!(port >= 1 && port <= 65535)) throw new UsageError(target, `port ${m[2]} is not 1..65535`);
    const dir = stringFlag(p, "--dir");
    const name = await pickStack(nameArg(stringFlag(p, "--stack")), dir);
    await request(name, { op: "connect", addr, port }, (f) => {
      if (f.kind === "data") {
        writeAll(1, f.bytes);
      }
    }, { dir, input: process.stdin as AsyncIterable<Uint8Array> });
    // stdin may still be open (a terminal): the connection is over.
    process.stdin.destroy();
    return 0;
  },
};
