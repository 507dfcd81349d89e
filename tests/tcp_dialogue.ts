/**
 * Packet dialogues with one TCP connection: host A runs the real TCP layer,
 * host B is a raw peer driven by the test. The test injects a segment from B
 * (`send`), then says exactly which segment A answers with (`expect`) or
 * that A stays silent (`recvNothing`), on the virtual clock of tests/sim.ts.
 * Fixtures put A's connection in each RFC 9293 state (`synSent()`,
 * `established()`, `timeWait()`, ...).
 *
 * Sequence numbers are relative, as tcpdump prints them: A's to its ISS
 * (learned from its first SYN), B's to {@link Dialogue.issB}. A segment A sent
 * before it had an ISS (a RST for no connection) reads relative to 0, that
 * is, absolute.
 *
 * @module
 */
import { assertEquals } from "@std/assert";
import type { TcpReceiver } from "../src/ip/ipv4_layer.ts";
import { ipHeadroom } from "../src/ip/mod.ts";
import type { TcpConfig } from "../src/tcp/config.ts";
import { State, stateName } from "../src/tcp/state.ts";
import type { Tcb } from "../src/tcp/tcb.ts";
import { TcpLayer } from "../src/tcp/tcp_layer.ts";
import { type Ipv4Packet, TcpFlags, TcpPacket, TcpRepr } from "../src/wire/mod.ts";
import { addrA, addrB, type Clock, type Host, twoHosts } from "./sim.ts";

export const { fin: FIN, syn: SYN, rst: RST, psh: PSH, ack: ACK, ece: ECE, cwr: CWR } = TcpFlags;

/** Port A listens on (passive fixtures) or connects to (active ones). */
export const portA = 80;
/** B's port. */
export const portB = 40000;
/** A's port in active opens. */
export const portActive = 50000;

/** `SYN|ACK`: control bits as tcpdump would name them. */
export function flagNames(f: number): string {
  const names: string[] = [];
  for (
    const [bit, name] of [
      [SYN, "SYN"],
      [FIN, "FIN"],
      [RST, "RST"],
      [PSH, "PSH"],
      [ACK, "ACK"],
      [ECE, "ECE"],
      [CWR, "CWR"],
    ] as const
  ) {
    if ((f & bit) !== 0) names.push(name);
  }
  return names.length > 0 ? names.join("|") : "none";
}

/** `n` bytes of a recognisable pattern starting at `from`. */
export function pattern(n: number, from = 0): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (from + i) * 7 & 0xff;
  return b;
}

/** A segment B sends. Sequence numbers relative (B's to issB, acks to A's ISS). */
export interface Out {
  flags: number;
  seq?: number;
  ack?: number;
  /** Window field as sent (unscaled). Default {@link Dialogue.peerWindow}. */
  window?: number;
  mss?: number;
  ws?: number;
  sackPermitted?: boolean;
  /** [TSval, TSecr]; false: none. Default: B's clock and A's last TSval, once timestamps are on. */
  ts?: readonly [number, number] | false;
  /** SACK blocks, relative to A's ISS. */
  sack?: readonly (readonly [number, number])[];
  /** Payload, or its length (a pattern continuing the byte stream at `seq`). */
  payload?: Uint8Array | number;
  srcPort?: number;
  /** The IP header's ECN field (RFC 3168 5: 2 ECT(0), 3 CE); default 0. */
  ecn?: number;
  /** Send it with a wrong TCP checksum. */
  corrupt?: boolean;
}

/** A segment A sent, as B received it. */
export interface Seg {
  flags: number;
  /** Relative to A's ISS. */
  seq: number;
  /** Relative to issB (meaningful with ACK). */
  ack: number;
  window: number;
  /** -1 when absent. */
  mss: number;
  /** -1 when absent. */
  ws: number;
  sackPermitted: boolean;
  ts: [number, number] | undefined;
  /** SACK blocks relative to issB. */
  sack: [number, number][];
  payload: Uint8Array;
  srcPort: number;
  dstPort: number;
  rawSeq: number;
  rawAck: number;
  /** The IP header's ECN field (RFC 3168 5). */
  ecn: number;
  /** Virtual time B received it, ms. */
  at: number;
}

/** What a test checks in a segment: any subset of its fields. */
export type Expect = Partial<Omit<Seg, "payload">> & { len?: number; payload?: Uint8Array };

function show(s: Seg): string {
  const o = [
    s.mss >= 0 ? `mss ${s.mss}` : "",
    s.ws >= 0 ? `ws ${s.ws}` : "",
    s.sackPermitted ? "sackOK" : "",
    s.ts ? `TS ${s.ts[0]}:${s.ts[1]}` : "",
    s.sack.length > 0 ? `sack ${s.sack.map(([l, r]) => `${l}:${r}`).join(" ")}` : "",
  ].filter((x) => x !== "").join(",");
  return `[${flagNames(s.flags)}] seq ${s.seq} ack ${s.ack} win ${s.window} len ${s.payload.length}` +
    (o ? ` <${o}>` : "") + ` at ${s.at.toFixed(2)} ms`;
}

/** Peer (B) options in its SYN or SYN|ACK. */
export interface PeerOptions {
  /** MSS option; -1: none. Default 1460. */
  mss?: number;
  /** Window scale option; -1 (default): none. */
  ws?: number;
  sackPermitted?: boolean;
  timestamps?: boolean;
}

/** Options of a {@link Dialogue} and its fixtures. */
export interface DialogueOptions {
  tcp?: Partial<TcpConfig>;
  peer?: PeerOptions;
  /** Open actively (A connects) rather than passively (A listens). */
  active?: boolean;
  /** B's window field. Default 65535. */
  window?: number;
  /** Read received data at once (default true); false lets A's receive buffer fill. */
  autoRead?: boolean;
  /** Listener backlog. */
  backlog?: number;
  /** Large segments A's link cuts into MSS-sized ones (MemoryLinkOptions.segmentation); 0: none. */
  segmentation?: number;
  /** The link's one-way delay, ms (default 0.05). */
  delayMs?: number;
  /** A's received segments coalesced within each burst (RxCoalescer), as LRO or GRO would; default off. */
  coalescing?: boolean;
}

/** One host with TCP (A) and a raw peer (B); see the module documentation. */
export class Dialogue implements TcpReceiver {
  readonly a: Host;
  readonly b: Host;
  readonly clock: Clock;
  readonly tcp: TcpLayer;
  readonly peer: Required<PeerOptions>;
  /** B's initial sequence number: close to the wrap, so every dialogue crosses 2^32. */
  issB = 0xffff_fe00;
  /** A's ISS, once known. */
  issA = 0;
  peerWindow: number;
  autoRead: boolean;
  /** Timestamps in use on the connection (B stamps its segments). */
  ts = false;
  /** The last TSval A sent. */
  lastTsA = 0;
  /** What happened, in order: "open", "end", "close", "close: <error>". */
  readonly events: string[] = [];
  /** Bytes A's application read. */
  received: number[] = [];
  /** The connection under test. */
  conn: Tcb | undefined;
  /** Segments A sent that no test has looked at yet. */
  readonly queue: Seg[] = [];
  /** Called when data arrives, before auto-read (to reply from inside the handler, say). */
  onData: ((c: Tcb) => void) | undefined;
  readonly #repr = new TcpRepr();
  readonly #view = new TcpPacket();
  readonly #rx = new TcpRepr();
  #active = false;

  constructor(o: DialogueOptions = {}) {
    const { a, b, clock } = twoHosts({
      segmentation: o.segmentation,
      delayMs: o.delayMs,
      coalescingA: o.coalescing,
    });
    this.a = a;
    this.b = b;
    this.clock = clock;
    clock.now = 1000; // TSvals of 0 mean "no echo": start later
    this.tcp = new TcpLayer(a.ip, o.tcp, { key: new Uint8Array(16).fill(7) });
    a.onPoll = (now) => this.tcp.poll(now);
    a.pollAtExtra = () => this.tcp.pollAt();
    b.ip.setTcpReceiver(this);
    this.peer = { mss: 1460, ws: -1, sackPermitted: false, timestamps: false, ...o.peer };
    this.peerWindow = o.window ?? 65535;
    this.autoRead = o.autoRead ?? true;
    // Resolve each other's MAC first, so that no ARP exchange delays the dialogue.
    let pong = false;
    b.ip.onEchoReply = () => pong = true;
    b.ip.sendEchoRequest(addrA, 1, 1, 8, clock.now);
    clock.runUntil(() => pong, 10);
  }

  get now(): number {
    return this.clock.now;
  }

  /** The handlers A's application gives its connections: they record events. */
  handlers() {
    return {
      onOpen: (c: Tcb) => {
        this.conn = c;
        this.events.push("open");
      },
      onData: (c: Tcb) => {
        this.onData?.(c);
        if (!this.autoRead) return;
        const buf = new Uint8Array(65536);
        for (let n; (n = this.tcp.read(c, buf, this.now)) > 0;) this.received.push(...buf.subarray(0, n));
      },
      onEnd: () => this.events.push("end"),
      onClose: (_c: Tcb, error: string | undefined) => this.events.push(error ? `close: ${error}` : "close"),
    };
  }

  /** A listens on {@link portA}. */
  listen(backlog?: number): void {
    this.tcp.listen(portA, (c) => {
      this.conn = c;
      return this.handlers();
    }, backlog);
  }

  /** A connects to B's port {@link portA} from {@link portActive}. */
  connect(): Tcb {
    this.#active = true;
    this.conn = this.tcp.connect(addrB, portA, this.handlers(), this.now, portActive);
    return this.conn;
  }

  /** The connection under test: the one A's application holds, or the only one in A's table. */
  get tcb(): Tcb | undefined {
    if (this.conn !== undefined) return this.conn;
    for (const t of this.tcp.each()) return t;
    return undefined;
  }

  /**
   * The RFC name of the connection's state; CLOSED once it left the table. A
   * connection in TIME-WAIT has given its control block up for a record that
   * holds its tuple: TIME-WAIT while that record is there.
   */
  state(): string {
    const t = this.tcb;
    if (t === undefined) return "CLOSED";
    if (!t.dead) return stateName(t.state);
    return this.tcp.stateOf(t.remoteIp, t.remotePort, t.localPort) === State.timeWait
      ? "TIME-WAIT"
      : "CLOSED";
  }

  /** A's application writes bytes (a pattern of `n` bytes if a number). Returns what was taken. */
  write(data: Uint8Array | number, from = 0): number {
    const bytes = typeof data === "number" ? pattern(data, from) : data;
    return this.tcp.write(this.tcb!, bytes, this.now);
  }

  close(): void {
    this.tcp.close(this.tcb!, this.now);
  }

  abort(): void {
    this.tcp.abort(this.tcb!, this.now);
  }

  /** B sends a segment to A, which processes it before this returns. */
  send(o: Out): void {
    this.sendBurst([o]);
  }

  /**
   * B sends segments to A in one burst (they reach A's receive path in one
   * rx call, where coalescing may merge them); A has processed them when
   * this returns.
   */
  sendBurst(list: readonly Out[]): void {
    const before = this.a.ip.counters.linkRxFrames;
    for (const o of list) this.#queue(o);
    if (!this.clock.runUntil(() => this.a.ip.counters.linkRxFrames > before, 10)) {
      throw new Error("A never got the segments");
    }
  }

  #queue(o: Out): void {
    const r = this.#repr;
    r.srcPort = o.srcPort ?? (this.#active ? portA : portB);
    r.dstPort = this.#active ? portActive : portA;
    r.seq = (this.issB + (o.seq ?? 0)) >>> 0;
    r.ack = (o.flags & ACK) !== 0 ? (this.issA + (o.ack ?? 0)) >>> 0 : 0;
    r.flags = o.flags;
    r.window = o.window ?? this.peerWindow;
    r.urgent = 0;
    const opt = r.options;
    opt.clear();
    if (o.mss !== undefined && o.mss >= 0) opt.mss = o.mss;
    if (o.ws !== undefined && o.ws >= 0) opt.windowScale = o.ws;
    if (o.sackPermitted) opt.sackPermitted = true;
    const ts = o.ts ?? (this.ts ? [this.tsB(), this.lastTsA] as const : false);
    if (ts !== false) {
      opt.timestamps = true;
      opt.tsVal = ts[0] >>> 0;
      opt.tsEcr = ts[1] >>> 0;
    }
    for (const [l, rr] of o.sack ?? []) opt.addSackBlock((this.issA + l) >>> 0, (this.issA + rr) >>> 0);
    const payload = typeof o.payload === "number"
      ? pattern(o.payload, o.seq ?? 0)
      : o.payload ?? new Uint8Array(0);
    r.payloadLen = payload.length;
    const zone = this.b.zone;
    const h = zone.take();
    const tcpOff = zone.dataStart(h) + zone.headroom + ipHeadroom;
    const hdr = r.headerLen();
    zone.bytes.set(payload, tcpOff + hdr);
    r.emit(this.#view.attach(zone.bytes, tcpOff, hdr + payload.length), addrB, addrA);
    this.b.ip.sendTcp(h, tcpOff, hdr + payload.length, addrA, this.now, o.ecn ?? 0);
    // On the wire, after B summed it: the frame waits in B's transmit batch.
    if (o.corrupt) zone.bytes[tcpOff + 16] ^= 0x5a;
  }

  /** B's timestamp clock: TSval of a segment sent now. */
  tsB(): number {
    return (7_000_000 + Math.floor(this.now)) >>> 0;
  }

  /** The next segment A sent, waiting up to `maxMs` of virtual time for it. */
  recv(maxMs = 1): Seg {
    if (this.queue.length === 0) this.clock.runUntil(() => this.queue.length > 0, maxMs);
    const s = this.queue.shift();
    if (s === undefined) throw new Error(`A sent nothing within ${maxMs} ms (state ${this.state()})`);
    return s;
  }

  /** Receives the next segment and checks the fields given in `want`. */
  expect(want: Expect, maxMs = 1): Seg {
    const s = this.recv(maxMs);
    checkSeg(s, want);
    return s;
  }

  /** Runs `ms` of virtual time and checks that A sent nothing. */
  recvNothing(ms = 1): void {
    if (this.queue.length === 0) this.clock.run(ms);
    if (this.queue.length > 0) throw new Error(`A sent ${this.queue.map(show).join("; ")}, expected nothing`);
  }

  /** Runs `ms` of virtual time, keeping what A sends for {@link recv}. */
  run(ms: number): void {
    this.clock.run(ms);
  }

  /** Runs `ms` of virtual time and takes everything A sent by then. */
  recvAll(ms = 0.5): Seg[] {
    this.clock.run(ms);
    return this.queue.splice(0);
  }

  /** @internal B's TCP receiver sheds nothing. */
  shedsEarly(): boolean {
    return false;
  }

  /** @internal B's TCP receiver: records each segment A sends. */
  tcpInput(_h: number, ip: Ipv4Packet, tcp: TcpPacket, now: number): boolean {
    const r = this.#rx;
    r.parse(tcp, ip.src, ip.dst);
    const o = r.options;
    if ((r.flags & SYN) !== 0 && this.issA === 0) this.issA = r.seq;
    if (o.timestamps) this.lastTsA = o.tsVal;
    const sack: [number, number][] = [];
    for (let i = 0; i < o.sackCount; i++) {
      sack.push([(o.sackBlocks[2 * i] - this.issB) >>> 0, (o.sackBlocks[2 * i + 1] - this.issB) >>> 0]);
    }
    this.queue.push({
      flags: r.flags,
      seq: (r.seq - this.issA) >>> 0,
      ack: (r.flags & ACK) !== 0 ? (r.ack - this.issB) >>> 0 : r.ack,
      window: r.window,
      mss: o.mss,
      ws: o.windowScale,
      sackPermitted: o.sackPermitted,
      ts: o.timestamps ? [o.tsVal, o.tsEcr] : undefined,
      sack,
      payload: tcp.bytes.slice(tcp.payloadOffset, tcp.offset + tcp.length),
      srcPort: r.srcPort,
      dstPort: r.dstPort,
      rawSeq: r.seq,
      rawAck: r.ack,
      ecn: ip.ecn,
      at: now,
    });
    return false;
  }

  /** B's options for its SYN or SYN|ACK, from {@link peer}. */
  synOptions(): Partial<Out> {
    const p = this.peer;
    return {
      mss: p.mss,
      ws: p.ws,
      sackPermitted: p.sackPermitted,
      ts: p.timestamps ? [this.tsB(), this.lastTsA] : false,
    };
  }
}

/** Checks the fields of `s` named in `want`, printing the whole segment when one differs. */
export function checkSeg(s: Seg, want: Expect): void {
  const got: Record<string, unknown> = {};
  const exp: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(want)) {
    if (v === undefined) continue;
    exp[k] = k === "flags" ? flagNames(v as number) : v;
    const g = k === "len" ? s.payload.length : (s as unknown as Record<string, unknown>)[k];
    got[k] = k === "flags" ? flagNames(g as number) : g;
  }
  assertEquals(got, exp, `A sent ${show(s)}`);
}

// ------------------------------------------------------------------ fixtures

/** A listens; nothing sent yet. */
export function listening(o: DialogueOptions = {}): Dialogue {
  const d = new Dialogue(o);
  d.listen(o.backlog);
  return d;
}

/** A connected: its SYN is out (and consumed), B has not answered. */
export function synSent(o: DialogueOptions = {}): Dialogue {
  const d = new Dialogue({ ...o, active: true });
  d.connect();
  d.expect({ flags: SYN, seq: 0 });
  assertEquals(d.state(), "SYN-SENT");
  return d;
}

/** A listening got B's SYN and answered SYN|ACK (consumed). */
export function synReceived(o: DialogueOptions = {}): Dialogue {
  const d = listening(o);
  d.send({ flags: SYN, seq: 0, ...d.synOptions() });
  const s = d.expect({ flags: SYN | ACK, seq: 0, ack: 1 });
  d.ts = s.ts !== undefined;
  assertEquals(d.state(), "SYN-RECEIVED");
  return d;
}

/** ESTABLISHED, passively (default) or actively (`active: true`); nothing in flight, both sides at seq 1. */
export function established(o: DialogueOptions = {}): Dialogue {
  if (o.active) {
    const d = synSent(o);
    d.send({ flags: SYN | ACK, seq: 0, ack: 1, ...d.synOptions() });
    d.ts = d.tcb!.tsOk;
    d.expect({ flags: ACK, seq: 1, ack: 1 });
    assertEquals(d.state(), "ESTABLISHED");
    return d;
  }
  const d = synReceived(o);
  d.send({ flags: ACK, seq: 1, ack: 1 });
  assertEquals(d.state(), "ESTABLISHED");
  return d;
}

/** A closed first: its FIN (seq 1) is out and unacknowledged. */
export function finWait1(o: DialogueOptions = {}): Dialogue {
  const d = established(o);
  d.close();
  d.expect({ flags: FIN | ACK, seq: 1, ack: 1 });
  assertEquals(d.state(), "FIN-WAIT-1");
  return d;
}

/** A's FIN acknowledged; B's side still open. */
export function finWait2(o: DialogueOptions = {}): Dialogue {
  const d = finWait1(o);
  d.send({ flags: ACK, seq: 1, ack: 2 });
  assertEquals(d.state(), "FIN-WAIT-2");
  return d;
}

/** B closed first: its FIN (seq 1) was ACKed. */
export function closeWait(o: DialogueOptions = {}): Dialogue {
  const d = established(o);
  d.send({ flags: FIN | ACK, seq: 1, ack: 1 });
  d.expect({ flags: ACK, seq: 1, ack: 2 });
  assertEquals(d.state(), "CLOSE-WAIT");
  return d;
}

/** After CLOSE-WAIT, A closed: its FIN (seq 1) is out. */
export function lastAck(o: DialogueOptions = {}): Dialogue {
  const d = closeWait(o);
  d.close();
  d.expect({ flags: FIN | ACK, seq: 1, ack: 2 });
  assertEquals(d.state(), "LAST-ACK");
  return d;
}

/** Both closed at once: B's FIN crossed A's, A ACKed it; A's FIN unacknowledged. */
export function closing(o: DialogueOptions = {}): Dialogue {
  const d = finWait1(o);
  d.send({ flags: FIN | ACK, seq: 1, ack: 1 });
  d.expect({ flags: ACK, seq: 2, ack: 2 });
  assertEquals(d.state(), "CLOSING");
  return d;
}

/** A closed first, B's FIN came after A's was ACKed: A is in TIME-WAIT. */
export function timeWait(o: DialogueOptions = {}): Dialogue {
  const d = finWait2(o);
  d.send({ flags: FIN | ACK, seq: 1, ack: 2 });
  d.expect({ flags: ACK, seq: 2, ack: 2 });
  assertEquals(d.state(), "TIME-WAIT");
  return d;
}
