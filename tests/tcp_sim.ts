/**
 * TCP over the in-memory link: two hosts with a TCP layer each, transfers of
 * seeded data checked by SHA-256, on the virtual clock.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { RxCoalescer } from "../src/device/coalesce.ts";
import type { FaultOptions } from "../src/device/mod.ts";
import type { TcpConfig } from "../src/tcp/config.ts";
import { State, stateName } from "../src/tcp/state.ts";
import type { Tcb, TcbStats } from "../src/tcp/tcb.ts";
import { TcpLayer } from "../src/tcp/tcp_layer.ts";
import { Random } from "../src/util/random.ts";
import { addrB, type Clock, type Host, twoHosts, type TwoHostsOptions } from "./sim.ts";

/** A TCP layer on `host`, run by its loop (the same key everywhere: runs replay exactly). */
export function attachTcp(host: Host, config?: Partial<TcpConfig>): TcpLayer {
  const t = new TcpLayer(host.ip, config, { key: new Uint8Array(16).fill(7) });
  host.onPoll = (now) => t.poll(now);
  host.pollAtExtra = () => t.pollAt();
  return t;
}

/** Two hosts with TCP. */
export function tcpHosts(options: TwoHostsOptions & { tcp?: Partial<TcpConfig>; tcpB?: Partial<TcpConfig> } = {}) {
  const { a, b, clock } = twoHosts(options);
  const ta = attachTcp(a, options.tcp);
  const tb = attachTcp(b, options.tcpB ?? options.tcp);
  return { a, b, ta, tb, clock };
}

/** A source of seeded bytes, and the SHA-256 of what it produced. */
export class Source {
  readonly #rnd: Random;
  readonly #hash = createHash("sha256");
  readonly total: number;
  produced = 0;
  readonly #buf = new Uint8Array(65536);
  constructor(seed: number, total: number) {
    this.#rnd = new Random(seed);
    this.total = total;
  }
  /** The next up to `max` bytes (a view valid until the next call). */
  next(max: number): Uint8Array {
    const n = Math.min(max, this.total - this.produced, this.#buf.length);
    for (let i = 0; i < n; i += 4) {
      const v = this.#rnd.next();
      this.#buf[i] = v;
      this.#buf[i + 1] = v >>> 8;
      this.#buf[i + 2] = v >>> 16;
      this.#buf[i + 3] = v >>> 24;
    }
    return this.#buf.subarray(0, n);
  }
  /** Marks `n` bytes of the last {@link next} as taken. */
  took(view: Uint8Array, n: number): void {
    this.#hash.update(view.subarray(0, n));
    this.produced += n;
    // Bytes not taken are generated again next time: rewind by regenerating is not possible,
    // so keep them: the caller only takes a prefix, and the rest is re-offered below.
    this.#pending = view.subarray(n);
  }
  #pending: Uint8Array | undefined;
  /** What to offer next: left-over bytes first. */
  offer(max: number): Uint8Array {
    if (this.#pending !== undefined && this.#pending.length > 0) {
      const p = this.#pending.slice(0, max);
      return p;
    }
    return this.next(max);
  }
  digest(): string {
    return this.#hash.digest("hex");
  }
}

/** One side of a transfer: sends `bytes` of seeded data, hashes what it receives, closes when both are done. */
export class Endpoint {
  readonly tcp: TcpLayer;
  readonly clock: Clock;
  readonly #out: Uint8Array;
  #sent = 0;
  readonly #sendHash = createHash("sha256");
  readonly #recvHash = createHash("sha256");
  received = 0;
  ended = false;
  closed = false;
  error: string | undefined;
  conn: Tcb | undefined;
  sendDigest = "";
  recvDigest = "";
  /** Whether received data is read as it comes; while false it waits until {@link drain}. */
  reading = true;
  readonly #buf = new Uint8Array(65536);

  constructor(tcp: TcpLayer, clock: Clock, bytes: number, seed: number) {
    this.tcp = tcp;
    this.clock = clock;
    this.#out = new Uint8Array(bytes);
    const r = new Random(seed);
    for (let i = 0; i < bytes; i++) this.#out[i] = r.next() & 0xff;
    this.#sendHash.update(this.#out);
    this.sendDigest = this.#sendHash.digest("hex");
  }

  handlers() {
    return {
      onOpen: (c: Tcb) => {
        this.conn = c;
        this.#pump(c);
      },
      onWritable: (c: Tcb) => this.#pump(c),
      onData: (c: Tcb) => {
        if (this.reading) this.drain(c);
      },
      onEnd: (_c: Tcb) => {
        this.ended = true;
        this.recvDigest = this.#recvHash.digest("hex");
      },
      onClose: (_c: Tcb, error: string | undefined) => {
        this.closed = true;
        this.error = error;
      },
    };
  }

  /** Reads every byte waiting on `c`. */
  drain(c: Tcb): void {
    for (;;) {
      const n = this.tcp.read(c, this.#buf, this.clock.now);
      if (n === 0) break;
      this.#recvHash.update(this.#buf.subarray(0, n));
      this.received += n;
    }
  }

  #pump(c: Tcb): void {
    while (this.#sent < this.#out.length) {
      const n = this.tcp.write(c, this.#out.subarray(this.#sent, Math.min(this.#out.length, this.#sent + 65536)), this.clock.now);
      this.#sent += n;
      if (n === 0) return;
    }
    this.tcp.close(c, this.clock.now);
  }
}

/** Result of {@link transfer}. */
export interface TransferResult {
  ok: boolean;
  detail: string;
  ms: number;
  /** Segments the hosts' receive coalescing merged (0 without it). */
  coalesced: number;
  /** Segments the hosts received as chains of buffers (frameChains). */
  chained: number;
}

/** Options of {@link transfer}. */
export interface TransferOptions {
  seed: number;
  bytesAtoB: number;
  bytesBtoA: number;
  faults?: FaultOptions;
  bandwidthBps?: number;
  delayMs?: number;
  tcp?: Partial<TcpConfig>;
  maxMs?: number;
  /** Large segments the link cuts (MemoryLinkOptions.segmentation); 0: none. */
  segmentation?: number;
  /** Received segments coalesced within each burst (RxCoalescer); default off. */
  coalescing?: boolean;
  /** The link's MTU, chains of buffers for longer frames, and the buffers' data room (TwoHostsOptions). */
  mtu?: number;
  frameChains?: boolean;
  dataRoom?: number;
}

/** Transfers data both ways at once and checks everything a finished run must satisfy. */
export function transfer(o: TransferOptions): TransferResult {
  const { a, b, ta, tb, clock } = tcpHosts({
    seed: o.seed,
    faultsAtoB: o.faults,
    faultsBtoA: o.faults,
    bandwidthBps: o.bandwidthBps,
    delayMs: o.delayMs,
    buffers: 8192,
    tcp: o.tcp,
    segmentation: o.segmentation,
    coalescing: o.coalescing,
    mtu: o.mtu,
    frameChains: o.frameChains,
    dataRoom: o.dataRoom,
  });
  const client = new Endpoint(ta, clock, o.bytesAtoB, o.seed * 2 + 1);
  const server = new Endpoint(tb, clock, o.bytesBtoA, o.seed * 2 + 2);
  tb.listen(80, () => server.handlers());
  ta.connect(addrB, 80, client.handlers(), clock.now);
  const finished = clock.runUntil(() => client.closed && server.closed, o.maxMs ?? 3_600_000);
  const problems: string[] = [];
  if (!finished) {
    problems.push(
      `not finished by ${clock.now.toFixed(0)} ms: client ${client.conn ? stateName(client.conn.state) : "-"} ` +
        `received ${client.received}/${o.bytesBtoA}, server ${server.conn ? stateName(server.conn.state) : "-"} ` +
        `received ${server.received}/${o.bytesAtoB}`,
    );
  }
  if (client.error) problems.push(`client error: ${client.error}`);
  if (server.error) problems.push(`server error: ${server.error}`);
  if (server.recvDigest !== client.sendDigest) problems.push("a->b data differs (SHA-256)");
  if (client.recvDigest !== server.sendDigest) problems.push("b->a data differs (SHA-256)");
  const ms = clock.now;
  const chained = ta.counters.inChainedSegs + tb.counters.inChainedSegs;
  let coalesced = 0;
  for (const h of [a, b] as Host[]) if (h.device instanceof RxCoalescer) coalesced += h.device.segments;
  // Past TIME-WAIT (2 MSL, 60 s by default): nothing may be left behind.
  clock.run(65_000);
  if (ta.connections + tb.connections !== 0) problems.push(`connections left: ${ta.connections} + ${tb.connections}`);
  if (ta.pollAt() !== Infinity || tb.pollAt() !== Infinity) problems.push("timers left armed");
  for (const h of [a, b] as Host[]) {
    h.device.close();
    h.zone.flush();
    const acc = h.zone.accounting();
    if (acc.inUse !== 0) problems.push(`${h.zone.name}: ${acc.inUse} buffers in use`);
  }
  return { ok: problems.length === 0, detail: `seed=${o.seed}: ${problems.join("; ")}`, ms, coalesced, chained };
}

/** Options of {@link oneWay}. */
export interface OneWayOptions {
  seed: number;
  bytes: number;
  /** Loss each way. */
  loss: number;
  tcp?: Partial<TcpConfig>;
  /** Large segments the link cuts (MemoryLinkOptions.segmentation). */
  segmentation?: number;
}

/**
 * `bytes` from A to B through `loss` each way at 1 Gbit/s and 0.1 ms round
 * trips, every byte checked: the goodput and the sender's counters.
 */
export function oneWay(o: OneWayOptions): { mbit: number; stats: TcbStats } {
  const { ta, tb, clock } = tcpHosts({
    seed: o.seed,
    faultsAtoB: { loss: o.loss },
    faultsBtoA: { loss: o.loss },
    bandwidthBps: 1e9,
    delayMs: 0.05,
    buffers: 16384,
    tcp: o.tcp,
    segmentation: o.segmentation,
  });
  const client = new Endpoint(ta, clock, o.bytes, 1);
  const server = new Endpoint(tb, clock, 0, 2);
  tb.listen(80, () => server.handlers());
  ta.connect(addrB, 80, client.handlers(), clock.now);
  clock.runUntil(() => server.ended, 600_000);
  if (server.recvDigest !== client.sendDigest) throw new Error(`seed ${o.seed}: the bytes B received differ from A's`);
  return { mbit: (o.bytes * 8) / (clock.now / 1000) / 1e6, stats: client.conn!.stats };
}

export { State };
