/**
 * The neighbour cache (RFC 826 ARP, RFC 1122 2.3.2.2): IPv4 address to MAC,
 * with a bounded queue of frames waiting for resolution, request
 * retransmission, expiry, and learning from what is heard.
 *
 * It does not send anything itself: it tells its owner (the IPv4 layer)
 * which requests to send and which waiting frames became ready, through the
 * callbacks it is built with.
 *
 * @module
 */

/** Settings of a {@link NeighborCache}. */
export interface NeighborOptions {
  /** Most entries kept; beyond it the stalest is evicted. Default 1024. */
  capacity?: number;
  /** How long a resolved entry is used before it is confirmed again, ms. Default 30000 (Linux base_reachable_time). */
  reachableMs?: number;
  /** Time between ARP requests for an unresolved address, ms. Default 1000 (RFC 1122 2.3.2.1: at most one per second). */
  retransmitMs?: number;
  /** Requests sent before giving up, ms. Default 3 (Linux mcast_solicit). */
  probes?: number;
  /** Frames waiting per unresolved neighbour. Default 128 (Linux holds about 100). */
  queueLen?: number;
}

const stateIncomplete = 0;
const stateReachable = 1;
const stateStale = 2;

class Entry {
  ip = 0;
  mac = 0;
  state = stateIncomplete;
  /** When a reachable entry turns stale; when an incomplete or refreshing entry sends its next request. */
  at = 0;
  probes = 0;
  /** Waiting frames, five numbers each: handle, data offset, length, flags, header lengths. */
  readonly waiting: number[] = [];
}

/** What a cache asks of its owner. */
export interface NeighborOwner {
  /** Send an ARP request for `ip` (to `mac`, or broadcast when 0). */
  sendRequest(ip: number, mac: number, now: number): void;
  /** A waiting frame can go: its Ethernet destination must be set to `mac`. */
  release(
    mac: number,
    h: number,
    dataOff: number,
    len: number,
    flags: number,
    lens: number,
    now: number,
  ): void;
  /** A waiting frame cannot go (never resolved, or the queue was full): drop it, counted under `why`. */
  drop(h: number, why: "unresolved" | "queue", now: number): void;
}

/** An IPv4 neighbour cache; see the module documentation. */
export class NeighborCache {
  private readonly _entries = new Map<number, Entry>();
  private readonly _owner: NeighborOwner;
  private readonly _capacity: number;
  private readonly _reachableMs: number;
  private readonly _retransmitMs: number;
  private readonly _probes: number;
  private readonly _queueLen: number;
  /** Earliest time {@link poll} has work; Infinity when none. */
  private _nextAt = Infinity;
  /** The entry {@link lookup} found last (a stack mostly talks to one next hop): no map lookup per frame. */
  private _last: Entry | undefined = undefined;

  constructor(owner: NeighborOwner, options: NeighborOptions = {}) {
    this._owner = owner;
    this._capacity = options.capacity ?? 1024;
    this._reachableMs = options.reachableMs ?? 30_000;
    this._retransmitMs = options.retransmitMs ?? 1000;
    this._probes = options.probes ?? 3;
    this._queueLen = options.queueLen ?? 128;
  }

  /** Entries held. */
  get size(): number {
    return this._entries.size;
  }

  /**
   * The MAC of `ip` if known (a stale entry is still used, and refreshed),
   * else -1: the caller then {@link enqueue}s its frame.
   */
  lookup(ip: number, now: number): number {
    let e = this._last;
    if (e === undefined || e.ip !== ip) {
      e = this._entries.get(ip);
      if (e === undefined) return -1;
      this._last = e;
    }
    if (e.state === stateIncomplete) return -1;
    if (e.state === stateReachable && now >= e.at) {
      // RFC 1122 2.3.2.1: confirm an old entry, keep using it meanwhile.
      e.state = stateStale;
      e.probes = 1;
      e.at = now + this._retransmitMs;
      this._nextAt = Math.min(this._nextAt, e.at);
      this._owner.sendRequest(ip, e.mac, now);
    }
    return e.mac;
  }

  /** Parks a frame until `ip` resolves, asking for it if nobody has yet. */
  enqueue(
    ip: number,
    h: number,
    dataOff: number,
    len: number,
    flags: number,
    lens: number,
    now: number,
  ): void {
    let e = this._entries.get(ip);
    if (e === undefined) {
      e = this._add(ip, now);
      e.state = stateIncomplete;
      e.probes = 1;
      e.at = now + this._retransmitMs;
      this._nextAt = Math.min(this._nextAt, e.at);
      this._owner.sendRequest(ip, 0, now);
    }
    if (e.waiting.length >= this._queueLen * 5) {
      this._owner.drop(h, "queue", now);
      return;
    }
    e.waiting.push(h, dataOff, len, flags, lens);
  }

  /**
   * Records what an ARP packet said: `ip` is at `mac`. With `create` false
   * (RFC 826's merge: the packet was not for us), only an existing entry is
   * updated.
   */
  learn(ip: number, mac: number, create: boolean, now: number): void {
    if (ip === 0) return;
    let e = this._entries.get(ip);
    if (e === undefined) {
      if (!create) return;
      e = this._add(ip, now);
    }
    e.mac = mac;
    e.state = stateReachable;
    e.at = now + this._reachableMs;
    e.probes = 0;
    const w = e.waiting;
    for (let i = 0; i < w.length; i += 5) {
      this._owner.release(mac, w[i], w[i + 1], w[i + 2], w[i + 3], w[i + 4], now);
    }
    w.length = 0;
  }

  /** Retransmits requests and gives up on neighbours that never answered. */
  poll(now: number): void {
    if (now < this._nextAt) return;
    let next = Infinity;
    for (const e of this._entries.values()) {
      if (e.state === stateReachable) continue;
      if (now >= e.at) {
        if (e.probes >= this._probes) {
          this._forget(e, now);
          continue;
        }
        e.probes++;
        e.at = now + this._retransmitMs;
        this._owner.sendRequest(e.ip, e.state === stateStale ? e.mac : 0, now);
      }
      next = Math.min(next, e.at);
    }
    this._nextAt = next;
  }

  /** When {@link poll} next has work. */
  pollAt(): number {
    return this._nextAt;
  }

  /** Drops every waiting frame and entry (on close). */
  clear(now: number): void {
    for (const e of [...this._entries.values()]) this._forget(e, now);
  }

  private _add(ip: number, now: number): Entry {
    if (this._entries.size >= this._capacity) this._evict(now);
    const e = new Entry();
    e.ip = ip;
    this._entries.set(ip, e);
    return e;
  }

  /** Evicts the entry that expired first, preferring resolved ones with nothing waiting. */
  private _evict(now: number): void {
    let victim: Entry | undefined;
    for (const e of this._entries.values()) {
      if (e.waiting.length !== 0) continue;
      if (victim === undefined || e.at < victim.at) victim = e;
    }
    victim ??= this._entries.values().next().value as Entry;
    this._forget(victim, now);
  }

  private _forget(e: Entry, now: number): void {
    const w = e.waiting;
    for (let i = 0; i < w.length; i += 5) this._owner.drop(w[i], "unresolved", now);
    w.length = 0;
    if (this._last === e) this._last = undefined;
    this._entries.delete(e.ip);
  }
}
